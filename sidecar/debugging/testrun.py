"""Test runs under the debugger: pinned node data, run from a node, breakpoints.

Only the debugging doors start these runs (``debug:test-run``, ``function:run`` for saved pins,
``execution:run-from``); the production paths (``POST /functions/:name``, webhooks, triggers) never
pass a session, so they never use pins or stop at breakpoints.

Pins: ``{nodeId: {port: value}}``, canvas nodes of the function only (not its Request or Response:
those are the run's ends). Saved pins (``debug:set-pins``) apply to every test run of the function;
a run's own pins are merged over them.

Run from a node: the past execution's request is sent again (as a re-run does), and every canvas node
upstream of the chosen one (its ancestors along the function's connections) is *replayed*: it does
not run, and sends what it sent in that execution, update by update. What cannot be replayed is
refused with the reason (``RunFromNodeRefusedError``, 409): an upstream node whose recorded output
was cut by the history's limits or redacted, one that failed in that run, one that owns child runs
(For Each, Retry, Try/Catch, Run Tasks: their outputs interleave with child work the replay would
skip), a summary-only execution, a node that is not a canvas node of the function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from sidecar.debugging.session import DEBUG_KEY
from sidecar.errors import InvalidParamsError, RunFromNodeRefusedError
from sidecar.history.rows import ExecutionRow, StepRow
from sidecar.history.scrub import REDACTED, TOO_DEEP

if TYPE_CHECKING:
    from sidecar.backends.backend import Backend
    from sidecar.runtime.export import ComponentDef

CLOUD_PREFIX = "/#__cloud__/"
_ENDS = frozenset({"noodl.cloud.request", "noodl.cloud.response"})
_REQUEST = "noodl.cloud.request"
# Nodes whose outputs come from child runs or timed attempts: a replay of their outputs would skip the
# per-item / per-attempt work their downstream saw interleaved with them.
NOT_RESUMABLE = frozenset(
    {"Workflow For Each", "Workflow Retry", "Workflow Try Catch", "Workflow Run Tasks", "Run Tasks"}
)
MAX_BREAKPOINTS = 200


def function_component(backend: Backend, name: str) -> ComponentDef:
    from sidecar.backends.functions import find_bundle

    component: ComponentDef = find_bundle(backend, name).runtime.export.components[CLOUD_PREFIX + name]
    return component


def _canvas(component: ComponentDef) -> dict[str, str]:
    return {node.id: node.type for node in component.walk_nodes()}


def check_pins(component: ComponentDef, pins: Any) -> dict[str, dict[str, Any]]:
    """``{nodeId: {port: value}}`` of canvas nodes that may be pinned; raises ``InvalidParamsError``."""
    if pins is None:
        return {}
    if not isinstance(pins, Mapping):
        raise InvalidParamsError("pins must be an object {nodeId: {port: value}}")
    canvas = _canvas(component)
    checked: dict[str, dict[str, Any]] = {}
    for node_id, outputs in pins.items():
        if node_id not in canvas:
            raise InvalidParamsError(f"cannot pin {node_id!r}: no such node in function {_name(component)}")
        if canvas[node_id] in _ENDS:
            raise InvalidParamsError(
                f"cannot pin {node_id!r}: the Request and Response nodes are the run's ends"
            )
        if not isinstance(outputs, Mapping) or not all(isinstance(port, str) for port in outputs):
            raise InvalidParamsError(f"the pin of {node_id!r} must map output port names to values")
        if any(port.startswith("__") for port in outputs):
            raise InvalidParamsError(f"the pin of {node_id!r} names a reserved port (starting with __)")
        checked[str(node_id)] = dict(outputs)
    return checked


def check_breakpoints(component: ComponentDef, breakpoints: Any) -> frozenset[str]:
    if breakpoints is None:
        return frozenset()
    if not isinstance(breakpoints, list | tuple) or not all(isinstance(item, str) for item in breakpoints):
        raise InvalidParamsError("breakpoints must be a list of node ids")
    if len(breakpoints) > MAX_BREAKPOINTS:
        raise InvalidParamsError(f"at most {MAX_BREAKPOINTS} breakpoints")
    canvas = _canvas(component)
    unknown = [node_id for node_id in breakpoints if node_id not in canvas]
    if unknown:
        raise InvalidParamsError(f"no such node in function {_name(component)}: {', '.join(unknown)}")
    return frozenset(breakpoints)


def _name(component: ComponentDef) -> str:
    return component.name.removeprefix(CLOUD_PREFIX)


def upstream_of(component: ComponentDef, node_id: str) -> set[str]:
    """Canvas nodes with a path of connections to ``node_id`` and none from it: a node in a loop with
    it (a Retry's attempt) runs again after it, so it is not upstream."""
    sources: dict[str, list[str]] = {}
    targets: dict[str, list[str]] = {}
    for conn in component.connections:
        sources.setdefault(conn.target_id, []).append(conn.source_id)
        targets.setdefault(conn.source_id, []).append(conn.target_id)
    return _reach(sources, node_id) - _reach(targets, node_id) - {node_id}


def _reach(edges: Mapping[str, list[str]], start: str) -> set[str]:
    found: set[str] = set()
    pending = list(edges.get(start, ()))
    while pending:
        item = pending.pop()
        if item not in found:
            found.add(item)
            pending.extend(edges.get(item, ()))
    return found


def _load(data: Any) -> Any:
    if isinstance(data, str):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
    return data


def _holds_marker(value: Any) -> bool:
    if isinstance(value, str):
        return REDACTED in value or TOO_DEEP in value
    if isinstance(value, dict):
        return any(_holds_marker(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_marker(item) for item in value)
    return False


@dataclass(frozen=True)
class ReplayPlan:
    replays: dict[str, list[list[dict[str, Any]]]]
    replayed: list[str]  # upstream canvas nodes, in the order they first ran in the past execution


def replay_plan(
    component: ComponentDef, execution: ExecutionRow, steps: list[StepRow], node_id: str
) -> ReplayPlan:
    """What the nodes upstream of ``node_id`` sent in ``execution``, per update; refuses what cannot be
    replayed (``RunFromNodeRefusedError``)."""
    canvas = _canvas(component)
    where = f"execution {execution.id}"
    if node_id not in canvas:
        raise RunFromNodeRefusedError(
            f"{node_id!r} is not a canvas node of function {_name(component)}; a node inside a child "
            "component runs from its owner",
            data={"nodeId": node_id, "reason": "not-a-canvas-node"},
        )
    metadata = _load(execution.metadata)
    if isinstance(metadata, dict) and metadata.get("summaryOnly"):
        raise RunFromNodeRefusedError(
            f"{where} was recorded as a summary only: its steps are not known",
            data={"reason": "summary-only"},
        )
    upstream = upstream_of(component, node_id)
    replays: dict[str, list[list[dict[str, Any]]]] = {
        node: [] for node in upstream if canvas[node] != _REQUEST
    }
    order: list[str] = []
    for step in steps:
        if step.node_id not in upstream:
            continue
        if step.node_id not in order:
            order.append(step.node_id)
        node_type = canvas[step.node_id]
        if node_type == _REQUEST:
            continue  # the request itself is sent again, as recorded
        refuse = _refusal(step, node_type)
        if refuse is not None:
            reason, text = refuse
            raise RunFromNodeRefusedError(
                f"cannot run from {node_id!r}: upstream node {step.node_id!r} {text} in {where}",
                data={"nodeId": step.node_id, "stepId": step.id, "reason": reason},
            )
        outputs = _load(step.output_data)
        sent = (
            {key: value for key, value in outputs.items() if key != DEBUG_KEY}
            if isinstance(outputs, dict)
            else {}
        )
        groups = replays[step.node_id]
        took_inputs = _load(step.input_data) not in ({}, None)
        if took_inputs or not groups:
            groups.append([sent])
        else:
            groups[-1].append(sent)  # late outputs of the same update (a Function that awaited)
    return ReplayPlan(replays, order)


def _refusal(step: StepRow, node_type: str) -> tuple[str, str] | None:
    if node_type in NOT_RESUMABLE:
        return "not-resumable", f"({node_type}) cannot be resumed: its outputs come from child runs"
    if step.status == "error":
        return "failed", f"failed ({step.error_message or 'error'})"
    outputs = _load(step.output_data)
    if isinstance(outputs, dict) and outputs.get("__truncated") is True:
        return "truncated", f"has an output cut by the history's size limit (step {step.id})"
    if outputs is None and step.output_data is not None:
        return "truncated", f"has an output that was not recorded in full (step {step.id})"
    if _holds_marker(outputs):
        return "redacted", f"has an output the history redacted (step {step.id})"
    return None
