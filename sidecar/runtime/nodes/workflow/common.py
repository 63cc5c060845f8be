"""Shared pieces of the workflow logic nodes: category, enum port types, steps outside a frame."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from sidecar.runtime.node import Node
from sidecar.runtime.values import js_to_number

CATEGORY = "Workflow Logic"


def enum_type(*values: str) -> dict[str, Any]:
    """An editor enum port type whose labels are the values themselves."""
    return {"name": "enum", "enums": [{"label": value, "value": value} for value in values]}


def number_or(value: Any, fallback: float) -> float:
    """A numeric input as a float; anything that is not a finite number gives ``fallback``."""
    number = float(js_to_number(value))
    return number if number == number and abs(number) != float("inf") else fallback


def run_as_step(node: Node, inputs: Mapping[str, Any], work: Callable[[], None]) -> None:
    """Run ``work`` (a timer firing, a loop iteration, a retry attempt) as one recorded step of ``node``.

    Work that happens outside a frame is not an update, so the engine would not record it; this
    gives it its own step (the history numbers it with the node's next ``run_index``). A failure
    inside ``work`` becomes the step's error and goes to the node's error scope, as in an update.
    """
    ctx = node.ctx
    if node.deleted or ctx.settled:
        return
    recorder = ctx.step_recorder
    if recorder is not None:
        ctx.note_node_start(node, dict(inputs))
    try:
        work()
    except Exception as error:  # reported like a failing update: the run goes on
        ctx.report_node_error(node, repr(error))
    if recorder is not None:
        ctx.note_node_end(node)


def record_failure(node: Node, message: str, *, handled: bool) -> None:
    """Make the node's current step an error step. A failure the graph handles (a connected
    failure output, a continue policy) stops there; an unhandled one also reaches the node's
    error scope (an enclosing Try/Catch), as a throwing node's does."""
    ctx = node.ctx
    if not handled:
        ctx.report_node_error(node, message)
    elif ctx.recorder is not None:
        ctx.recorder.node_failed(ctx.run_id, node.id, node.type_name, message)


class WorkflowNode(Node):
    """Base of the workflow nodes: their category and a ``describe()`` that lists dynamic ports."""

    CATEGORY = CATEGORY
    # (pattern, plug, type, what sets the count) for ports created on demand, e.g. ``case_<n>``.
    DYNAMIC_PORTS: ClassVar[tuple[tuple[str, str, str, str], ...]] = ()

    @classmethod
    def describe(cls) -> dict[str, Any]:
        described = super().describe()
        if cls.DYNAMIC_PORTS:
            described["dynamicPorts"] = [
                {"pattern": pattern, "plug": plug, "type": type_, "countFrom": count}
                for pattern, plug, type_, count in cls.DYNAMIC_PORTS
            ]
        return described


def numbered_port(name: str, prefix: str) -> int | None:
    """The ``n`` of a port named ``<prefix><n>``, else ``None``."""
    suffix = name[len(prefix) :] if name.startswith(prefix) else ""
    return int(suffix) if suffix.isdigit() else None
