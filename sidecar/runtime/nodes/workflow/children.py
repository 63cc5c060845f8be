"""Child component runs for For Each and Try/Catch, on Run Tasks' pattern (one instance per run).

The child contract (the template component's ports): inputs ``Do`` (signal; the child starts on it)
plus any of the named inputs the parent offers (``currentItem``, ``currentIndex``, ``data``);
outputs ``Success`` or ``Failure`` (signals; the first one ends the child), ``result`` (the value
collected) and ``error`` (a message, or an object with ``message``, read on ``Failure``). Every node
of the child — nested component instances included — is put in an error scope, so a node that
throws inside ends the child as failed with ``{message, stack, nodeId}`` of that node. The outcome is
read at the end of the frame that ended the child, so ``result`` sent with ``Success`` is current.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sidecar.runtime.component import ComponentInstance, ComponentOutputs, new_instance
from sidecar.runtime.export import CLOUD_PREFIX
from sidecar.runtime.node import Node
from sidecar.runtime.values import UNDEFINED, js_to_string

SUCCESS = "Success"
FAILURE = "Failure"
DEFAULT_FAILURE_MESSAGE = "Failure"
_child_numbers = itertools.count(1)  # child instance ids: unique within the process, cheap
_DO = frozenset({"Do"})


@dataclass(frozen=True, slots=True)
class ChildOutcome:
    ok: bool
    result: Any = None
    error: dict[str, Any] | None = None


def error_info(message: str, node_id: str, stack: str = "") -> dict[str, Any]:
    """The ``error`` value workflow nodes hand on: ``{message, stack, nodeId}``."""
    return {"message": message, "stack": stack or message, "nodeId": node_id}


def _walk(instance: ComponentInstance) -> Iterator[Node]:
    yield instance
    for node in list(instance.inner.values()):
        if isinstance(node, ComponentInstance):
            yield from _walk(node)
        else:
            yield node


def _failure_error(child: ComponentInstance) -> dict[str, Any]:
    raw = child.output_values.get("error", UNDEFINED)
    if isinstance(raw, dict):
        message = js_to_string(raw.get("message", DEFAULT_FAILURE_MESSAGE))
    else:
        message = DEFAULT_FAILURE_MESSAGE if raw is UNDEFINED or raw is None else js_to_string(raw)
    reporter = next((n.id for n in child.inner.values() if isinstance(n, ComponentOutputs)), child.id)
    return error_info(message, reporter)


def resolve_template(owner: Node, template: Any) -> Any:
    if template is UNDEFINED or not template:
        return None
    name = js_to_string(template)
    components = owner.ctx.services.export.components
    return components.get(name) or components.get(CLOUD_PREFIX + name)


def start_child(
    owner: Node,
    component: Any,
    inputs: Mapping[str, Any],
    on_end: Callable[[ChildOutcome], None],
) -> ComponentInstance:
    """Create and start one child instance; ``on_end`` runs once, after which the child is deleted."""
    ctx = owner.ctx
    # Do counts as connected: actions wired to Do wait for the signal.
    child = new_instance(ctx, component, f"{owner.id}#{next(_child_numbers)}", _DO)
    child.reported_as = owner.id  # no canvas node has the child's id: the owner's steps stand for it
    for name, value in inputs.items():
        if child.has_input(name):
            child.set_input(name, value)
    members = list(_walk(child))
    ended = False

    def finish(outcome: Callable[[], ChildOutcome]) -> None:
        nonlocal ended
        if ended or ctx.settled:
            return
        ended = True
        result = outcome()
        for node in members:
            ctx.error_scopes.pop(node, None)
        child.delete()
        ctx.node_released()
        on_end(result)

    def output_changed(port: str, new: Any, old: Any) -> None:
        if port in (SUCCESS, FAILURE) and new is True and old is not True:
            ok = port == SUCCESS
            ctx.at_frame_end(
                lambda: finish(
                    lambda: ChildOutcome(
                        ok, child.output_values.get("result"), None if ok else _failure_error(child)
                    )
                )
            )

    def failed(message: str, node_id: str, stack: str) -> None:
        finish(lambda: ChildOutcome(False, None, error_info(message, node_id, stack)))

    child.on_output_changed = output_changed
    for node in members:
        ctx.error_scopes[node] = failed
    child.queue_input("Do", True)
    child.queue_input("Do", False)
    return child
