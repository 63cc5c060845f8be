"""Live execution events: the kinds, their wire shape and the event id used by SSE replay.

Every event carries ``backendId``, ``executionId`` and a ``seq`` that increases by one with each event of
the same execution, starting at 1 with ``execution:started``. Step events carry previews and sizes of the
step's input and output, never the payloads themselves (the full step comes from ``execution-history:get``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sidecar.errors import InvalidHistoryQueryError


class EventKind(enum.StrEnum):
    STARTED = "execution:started"
    STEP = "execution:step"
    FINISHED = "execution:finished"
    PAUSED = "execution:paused"  # a test run stopped at a breakpoint (live only; never stored or replayed)


@dataclass(frozen=True, slots=True)
class ExecutionEvent:
    kind: EventKind
    backend_id: str
    execution_id: str
    workflow_id: str
    seq: int
    data: dict[str, Any]
    """The kind's own camelCase fields (nodeId, status, timings, previews, …)."""

    @property
    def event_id(self) -> str:
        """``<executionId>:<seq>``: what an SSE client sends back as ``Last-Event-ID``."""
        return f"{self.execution_id}:{self.seq}"

    def to_wire(self) -> dict[str, Any]:
        """The notification's single parameter (msgpack-RPC) or the SSE frame's ``data`` JSON."""
        return {
            **self.data,
            "backendId": self.backend_id,
            "executionId": self.execution_id,
            "workflowId": self.workflow_id,
            "seq": self.seq,
        }


@dataclass(frozen=True, slots=True)
class EventPosition:
    """Where a client stopped: the last event it saw."""

    execution_id: str
    seq: int

    @classmethod
    def parse(cls, last_event_id: str) -> EventPosition:
        execution_id, sep, seq = last_event_id.rpartition(":")
        if not sep or not execution_id or not seq.isdigit():
            raise InvalidHistoryQueryError(f"invalid Last-Event-ID {last_event_id!r}")
        return cls(execution_id, int(seq))
