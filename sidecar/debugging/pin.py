"""An execution shaped for the canvas overlay (``execution:pin``), and full values on request.

Pure functions over stored rows (``sidecar.history.rows``); nothing here reads the database.

Shape (all keys camelCase; absent rather than null)::

    {executionId, workflowId, status, startedAt, durationMs?, triggerType, retryOf?,
     error?: {message, nodeId?, stepId?},          # the run's error and the first node that failed
     order: [nodeId…],                             # canvas nodes in the order they first ran
     nodes: {nodeId: {nodeType, nodeName?, status, runCount, durationMs, firstStepIndex,
                      shownStepId,                 # the run whose ports are shown: first failed, else last
                      inputs: {port: Preview}, outputs: {port: Preview},
                      inputsTruncated?: Cut, outputsTruncated?: Cut,
                      error?: {message, nodeId, stepId, childNodeId?, path?},
                      debug?: "pinned" | "replayed",   # the shown step sent pinned / replayed values
                      runs: [{stepId, stepIndex, runIndex, status, durationMs?, error?, path?}]}},
     children?: [{path, component, order, nodes}], cancelledNodeId?, inputChanges?,
     paused?: {nodeId, nodeType, inputs: {port: Preview}, pausedAt, reason}}   # a test run at a breakpoint

``Preview`` is ``{type, size, value}`` for a value whose JSON fits in :data:`PREVIEW_CHARS`, else
``{type, size, preview, truncated: true, length?}`` (``length``: items of an array, keys of an
object); ``size`` is the value's JSON size in bytes. ``Cut`` is a payload the history itself cut at
record time (over its per-step limit): ``{size, preview}`` and no ports. :func:`step_value` gives one
port's whole stored value, so a large payload crosses only when it is asked for, one port at a time.

Child components: the owner's runs that end a child (For Each items, Try/Catch bodies, Retry
attempts) carry ``path``: the owner's canvas node id, then the child (``item[3]``, ``attempt[2]``,
``body``); where the child's failure named the node inside it that threw, the error has
``childNodeId``. The steps of the nodes inside template components (known from the deployed
workflow, ``child_places``) are not canvas nodes of the function: they are listed under
``children: [{path, component, order, nodes}]``, one entry per child run, with the same node shape.
The history records no console lines, so the overlay has none to show.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import orjson

from sidecar.errors import InvalidParamsError
from sidecar.history.rows import ExecutionRow, StepRow
from sidecar.runtime.request_contract import received_type

PREVIEW_CHARS = 200
_CLOUD = "/#__cloud__/"  # sidecar.runtime.export.CLOUD_PREFIX (not imported: this module stays light)
SIDES = ("input", "output")
_FOR_EACH = "Workflow For Each"
_TRY_CATCH = "Workflow Try Catch"
_RETRY = "Workflow Retry"
_ERROR = "error"
_DEBUG = "__debug"  # sidecar.debugging.session.DEBUG_KEY: a pinned or replayed step


class ChildPlace(NamedTuple):
    """Where a node that is no canvas node of the function lives: the template component it belongs
    to and the canvas node that runs that template (For Each, Try/Catch, Run Tasks)."""

    owner_node_id: str
    component: str


def load_json(data: Any) -> Any:
    """A stored JSON column as a value (None when absent or unparsable)."""
    return _load(data)


def _load(data: Any) -> Any:
    if data is None:
        return None
    if isinstance(data, str):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
    return data  # a small dict the writer had not serialized yet


def _kind(value: Any) -> str:
    return "null" if value is None else received_type(value)


def _json(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return orjson.dumps(str(value))


def preview(value: Any) -> dict[str, Any]:
    """One port's value as the overlay's first look: whole when small, else a cut with its size."""
    text = _json(value)
    kind = _kind(value)
    if len(text) <= PREVIEW_CHARS:
        return {"type": kind, "size": len(text), "value": value}
    entry: dict[str, Any] = {
        "type": kind,
        "size": len(text),
        "preview": text[:PREVIEW_CHARS].decode("utf-8", "ignore") + "…",
        "truncated": True,
    }
    if isinstance(value, list | dict):
        entry["length"] = len(value)
    return entry


def _cut_at_record(data: Any) -> dict[str, Any] | None:
    """The history's own truncation marker (the whole payload was over its limit), as a ``Cut``."""
    if isinstance(data, dict) and data.get("__truncated") is True:
        shown = str(data.get("__preview", ""))
        return {"size": data.get("__originalSize", 0), "preview": shown[:PREVIEW_CHARS]}
    return None


def _ports(data: Any) -> dict[str, Any]:
    return data if isinstance(data, dict) else {}


def _child_key(node_type: str, inputs: dict[str, Any]) -> str | None:
    """Which child a run of an owner node stands for; None for a run that is no child."""
    # A key holding null counts as absent: light rows extract the three keys from large inputs.
    if node_type == _FOR_EACH and inputs.get("currentIndex") is not None:
        return f"item[{inputs['currentIndex']}]"
    if node_type == _RETRY and inputs.get("attemptNumber") is not None:
        return f"attempt[{inputs['attemptNumber']}]"
    if node_type == _TRY_CATCH and inputs.get("ok") is not None:
        return "body"
    return None


def _child_failures(node_type: str, outputs: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Child key → the node inside the child that failed, from the owner's ``errors``/``error`` outputs."""
    found: dict[str, str] = {}
    for sent in outputs:
        errors = sent.get("errors")
        if node_type == _FOR_EACH and isinstance(errors, list):
            for error in errors:
                if isinstance(error, dict) and isinstance(error.get("nodeId"), str):
                    found[f"item[{error.get('index')}]"] = error["nodeId"]
        error = sent.get("error")
        if node_type == _TRY_CATCH and isinstance(error, dict) and isinstance(error.get("nodeId"), str):
            found["body"] = error["nodeId"]
    return found


_OWNERS = frozenset({_FOR_EACH, _TRY_CATCH, _RETRY})


class _NodeOverlay:
    """The runs of one canvas node, folded as they are read. Stored payloads are decoded only where
    they are shown (the shown run's ports) or name a child (the runs of For Each, Try/Catch, Retry):
    an execution of 1,000 steps costs a few milliseconds, not a thousand JSON parses."""

    __slots__ = ("first", "node_type", "outputs_seen", "owner", "runs", "shown")

    def __init__(self, first: StepRow) -> None:
        self.first = first
        self.node_type = first.node_type
        self.owner = first.node_type in _OWNERS
        self.runs: list[dict[str, Any]] = []
        self.shown: StepRow | None = None
        self.outputs_seen: list[dict[str, Any]] = []

    def add(self, step: StepRow) -> None:
        run: dict[str, Any] = {
            "stepId": step.id,
            "stepIndex": step.step_index,
            "runIndex": step.run_index,
            "status": step.status,
        }
        if step.duration_ms is not None:
            run["durationMs"] = step.duration_ms
        if self.owner:
            key = _child_key(self.node_type, _ports(_load(step.input_data)))
            if key is not None:
                run["path"] = [step.node_id, key]
            outputs = _load(step.output_data)
            if isinstance(outputs, dict):
                self.outputs_seen.append(outputs)
        failed = step.status == _ERROR
        if failed:
            run["error"] = {"message": step.error_message or "", "nodeId": step.node_id, "stepId": step.id}
        if self.shown is None or self.shown.status != _ERROR:
            self.shown = step  # the first failed run, else the latest
        self.runs.append(run)

    def to_json(self, payloads: Payloads | None = None) -> dict[str, Any]:
        step = self.shown
        assert step is not None
        stored = (
            (step.input_data, step.output_data) if payloads is None else payloads.get(step.id, (None, None))
        )
        inputs, outputs = _load(stored[0]), _load(stored[1])
        failures = _child_failures(self.node_type, self.outputs_seen) if self.owner else {}
        total_ms = 0
        for run in self.runs:
            total_ms += run.get("durationMs", 0)
            error = run.get("error")
            if error is not None and "path" in run:
                error["path"] = run["path"]
                inner = failures.get(run["path"][1])
                if inner is not None:
                    error["childNodeId"] = inner
        entry: dict[str, Any] = {
            "nodeType": self.node_type,
            "status": step.status,
            "runCount": len(self.runs),
            "durationMs": total_ms,
            "firstStepIndex": self.first.step_index,
            "shownStepId": step.id,
            "inputs": _previews(inputs),
            "outputs": _previews(outputs),
            "runs": self.runs,
        }
        if self.first.node_name:
            entry["nodeName"] = self.first.node_name
        if isinstance(outputs, dict) and isinstance(outputs.get(_DEBUG), str):
            entry["debug"] = outputs[_DEBUG]  # "pinned" or "replayed" (sidecar.debugging.session)
        for side, data in (("inputsTruncated", inputs), ("outputsTruncated", outputs)):
            cut = _cut_at_record(data)
            if cut is not None:
                entry[side] = cut
        failed = next((run["error"] for run in self.runs if "error" in run), None)
        if failed is not None:
            entry["error"] = failed
        return entry


def _previews(data: Any) -> dict[str, Any]:
    if _cut_at_record(data) is not None:
        return {}
    return {port: preview(value) for port, value in _ports(data).items() if port != _DEBUG}


Payloads = Mapping[str, tuple[Any, Any]]
"""``{step id: (input_data, output_data)}`` as stored, for the shown runs of light rows."""


class PinFold:
    """An execution's steps folded per canvas node and per child run, before any payload is decoded.

    Built from full rows or from light ones (``ExecutionHistory.light_execution``: no payloads except
    the keys that name child runs); :meth:`shown_step_ids` says which steps' payloads the overlay
    shows, and :meth:`to_json` takes them (from the rows themselves when none are given)."""

    def __init__(
        self,
        execution: ExecutionRow,
        steps: list[StepRow],
        child_nodes: Mapping[str, ChildPlace] | None = None,
    ) -> None:
        places = child_nodes or {}
        self.execution = execution
        self.places = places
        self.nodes: dict[str, _NodeOverlay] = {}
        inside: list[tuple[StepRow, ChildPlace]] = []
        self.first_failure: StepRow | None = None
        for step in steps:
            if self.first_failure is None and step.status == _ERROR:
                self.first_failure = step
            place = places.get(step.node_id)
            if place is not None:
                inside.append((step, place))
                continue
            overlay = self.nodes.get(step.node_id)
            if overlay is None:
                overlay = self.nodes[step.node_id] = _NodeOverlay(step)
            overlay.add(step)
        self.groups = _child_groups(inside, self.nodes) if inside else []

    def shown_step_ids(self) -> list[str]:
        overlays = [*self.nodes.values(), *(o for _g, members in self.groups for o in members.values())]
        return [overlay.shown.id for overlay in overlays if overlay.shown is not None]

    def to_json(self, payloads: Payloads | None = None) -> dict[str, Any]:
        execution, first_failure = self.execution, self.first_failure
        pinned: dict[str, Any] = {
            "executionId": execution.id,
            "workflowId": execution.workflow_id,
            "status": execution.status,
            "startedAt": execution.started_at,
            "triggerType": execution.trigger_type,
            "order": list(self.nodes),
            "nodes": {node_id: overlay.to_json(payloads) for node_id, overlay in self.nodes.items()},
        }
        if self.groups:
            children = []
            for group, members in self.groups:
                group["order"] = list(members)
                group["nodes"] = {node_id: overlay.to_json(payloads) for node_id, overlay in members.items()}
                children.append(group)
            pinned["children"] = children
        if execution.duration_ms is not None:
            pinned["durationMs"] = execution.duration_ms
        metadata = _load(execution.metadata)
        if isinstance(metadata, dict):
            for key in ("retryOf", "cancelledNodeId"):
                if isinstance(metadata.get(key), str):
                    pinned[key] = metadata[key]
            for key in ("inputChanges", "pinnedNodes", "replayedNodes", "breakpoints"):
                if isinstance(metadata.get(key), list):
                    pinned[key] = metadata[key]
            if isinstance(metadata.get("runFrom"), dict):
                pinned["runFrom"] = metadata["runFrom"]
        if execution.error_message or first_failure is not None:
            error: dict[str, Any] = {
                "message": execution.error_message
                or (first_failure.error_message if first_failure is not None else "")
                or ""
            }
            if first_failure is not None:
                error.update(nodeId=first_failure.node_id, stepId=first_failure.id)
                place = self.places.get(first_failure.node_id)
                if place is not None:
                    error["ownerNodeId"] = place.owner_node_id
            pinned["error"] = error
        return pinned


def pin_execution(
    execution: ExecutionRow, steps: list[StepRow], child_nodes: Mapping[str, ChildPlace] | None = None
) -> dict[str, Any]:
    """The overlay of one execution from full rows; ``steps`` in ``step_index`` order. ``child_nodes``
    names the node ids that belong to a child component rather than the function's canvas
    (``child_places``)."""
    return PinFold(execution, steps, child_nodes).to_json()


def _child_groups(
    inside: list[tuple[StepRow, ChildPlace]], owners: dict[str, _NodeOverlay]
) -> list[tuple[dict[str, Any], dict[str, _NodeOverlay]]]:
    """Steps of nodes inside child components, grouped per child run of their owner.

    A child's steps come before the owner's step that ends that child (the owner records each child's
    end as its own run), so each step goes to the first such owner run after it; with a For Each
    running items concurrently the grouping follows the order items ended. Steps after the owner's
    last ended child (a child still running, or cut short) go to the child ``running``."""
    ends: dict[str, tuple[list[int], list[list[str]]]] = {}
    for owner_id, owner in owners.items():
        indexes = [run["stepIndex"] for run in owner.runs if "path" in run]
        paths = [run["path"] for run in owner.runs if "path" in run]
        ends[owner_id] = (indexes, paths)
    groups: dict[tuple[str, ...], tuple[dict[str, Any], dict[str, _NodeOverlay]]] = {}
    for step, place in inside:
        indexes, paths = ends.get(place.owner_node_id, ([], []))
        at = bisect.bisect_right(indexes, step.step_index)
        path = paths[at] if at < len(paths) else [place.owner_node_id, "running"]
        key = tuple(path)
        group = groups.get(key)
        if group is None:
            group = groups[key] = ({"path": list(path), "component": place.component}, {})
        members = group[1]
        overlay = members.get(step.node_id)
        if overlay is None:
            overlay = members[step.node_id] = _NodeOverlay(step)
        overlay.add(step)
    return list(groups.values())


def child_places(components: Mapping[str, Any], function_component: str) -> dict[str, ChildPlace]:
    """Node ids of the template components a function's nodes run (a parameter naming the component,
    with or without the cloud prefix), each with its owner; ids that are also canvas nodes of the
    function stay canvas nodes. ``components``: ``ExportDef.components`` of the deployed workflow."""
    function = components.get(function_component)
    if function is None:
        return {}
    canvas = {node.id for node in function.walk_nodes()}
    places: dict[str, ChildPlace] = {}
    pending = [(node, function) for node in function.walk_nodes()]
    seen = {function_component}
    while pending:
        owner, _component = pending.pop(0)
        for value in owner.parameters.values():
            if not isinstance(value, str):
                continue
            name = value if value in components else _CLOUD + value
            template = components.get(name)
            if template is None or name in seen:
                continue
            seen.add(name)
            owner_id = places[owner.id].owner_node_id if owner.id in places else owner.id
            for node in template.walk_nodes():
                if node.id not in canvas and node.id not in places:
                    places[node.id] = ChildPlace(owner_id, name)
                pending.append((node, template))
    return places


def step_value(step: StepRow, side: str, port: str | None) -> dict[str, Any]:
    """One port's whole stored value (``port`` None: the whole side): ``{stepId, side, port?, value,
    size}``, plus ``truncatedAtRecord`` and ``originalSize`` when the history cut it when it ran."""
    if side not in SIDES:
        raise InvalidParamsError(f"side must be one of {', '.join(SIDES)}")
    data = _load(step.input_data if side == "input" else step.output_data)
    answer: dict[str, Any] = {"stepId": step.id, "nodeId": step.node_id, "side": side}
    cut = _cut_at_record(data)
    if cut is not None:
        answer.update(value=data, size=len(_json(data)), truncatedAtRecord=True, originalSize=cut["size"])
        if port is not None:
            answer["port"] = port
        return answer
    if port is None:
        value = data
    else:
        ports = _ports(data)
        if port not in ports:
            known = ", ".join(ports) or "none"
            raise InvalidParamsError(f"step {step.id} has no {side} port {port!r} (ports: {known})")
        value = ports[port]
        answer["port"] = port
    answer.update(value=value, size=len(_json(value)))
    return answer
