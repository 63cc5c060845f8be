"""The canvas overlays of finished executions, kept for the next ``execution:pin`` of the same run.

The editor pins the same execution again and again (each refresh of the canvas overlay). A finished
execution's rows never change, so its overlay is kept, keyed by what would change it: the execution's
status and last sequence number (a step added or a status changed moves them) and the deployed
workflow the child components are read from. A pin still reads the execution's row each time, so a
deleted execution is never answered from here; a running one is never kept.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # nothing imported at the top: a backend makes its cache before the runtime loads
    from sidecar.history.rows import ExecutionRow

MAX_KEPT = 16  # overlays of 1,000 steps are ~135 kB of JSON: a few MB at most


def key_of(execution: ExecutionRow, workflow_token: object) -> tuple[Any, ...] | None:
    """None for a running execution (its overlay changes with every step)."""
    if execution.status == "running":
        return None
    return (execution.id, execution.status, execution.last_seq, execution.completed_at, id(workflow_token))


class PinCache:
    def __init__(self, size: int = MAX_KEPT) -> None:
        self._size = size
        self._kept: OrderedDict[str, tuple[tuple[Any, ...], dict[str, Any]]] = OrderedDict()

    def get(self, key: tuple[Any, ...] | None) -> dict[str, Any] | None:
        """A copy of the kept overlay (callers add keys to it), or None."""
        if key is None:
            return None
        found = self._kept.get(key[0])
        if found is None or found[0] != key:
            return None
        self._kept.move_to_end(key[0])
        return copy.copy(found[1])

    def put(self, key: tuple[Any, ...] | None, pinned: dict[str, Any]) -> None:
        if key is None:
            return
        self._kept[key[0]] = (key, copy.copy(pinned))
        self._kept.move_to_end(key[0])
        while len(self._kept) > self._size:
            self._kept.popitem(last=False)
