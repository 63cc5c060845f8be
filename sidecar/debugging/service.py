"""The debugging operations over the running backends, as both doors call them.

Each finds the backend that holds the execution (ids are unique across backends), so the editor
passes only an execution or step id. Door mapping:

- ``execution:pin`` / ``GET /executions/:id/pin`` → :func:`pin`
- ``execution:step-value`` / ``GET /executions/:id/steps/:stepId/:side?port=`` → :func:`step_value`
- ``execution-history:rerun`` / ``POST /executions/:id/rerun`` → :func:`rerun` (edits optional)
- ``execution:cancel`` / ``POST /executions/:id/cancel`` → :func:`cancel`
- ``debug:get-pins`` / ``debug:set-pins`` / ``GET|PUT /debug/functions/:name/pins`` → :func:`get_pins`,
  :func:`set_pins`
- ``debug:test-run`` / ``POST /debug/functions/:name/run`` → :func:`run_test` (pins, breakpoints)
- ``execution:run-from`` / ``POST /executions/:id/run-from`` → :func:`run_from`
- ``execution:continue`` / ``execution:step`` / ``POST /executions/:id/continue|step`` → :func:`resume`
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

from sidecar.debugging import pin as overlay
from sidecar.debugging import pin_cache
from sidecar.debugging.replay import RerunEdits, edited_rerun_request
from sidecar.errors import (
    ExecutionNotFoundError,
    ExecutionNotRunningError,
    InvalidParamsError,
    SidecarError,
)
from sidecar.history.rows import ExecutionRow, StepRow
from sidecar.runtime.export import CLOUD_PREFIX

if TYPE_CHECKING:
    from sidecar.backends.backend import Backend
    from sidecar.debugging.running import RunningExecutions


class ExecutionHolder(Protocol):
    """What these operations need of a backend (``sidecar.backends.backend.Backend``)."""

    @property
    def backend_id(self) -> str: ...

    history: Any
    running: RunningExecutions


Holders = Sequence[ExecutionHolder]


async def _rows(backends: Holders, execution_id: str) -> tuple[ExecutionHolder, ExecutionRow, list[StepRow]]:
    for backend in backends:
        if backend.history is None:
            continue
        try:
            found = await backend.history.execution_rows(execution_id)
        except SidecarError:
            continue  # this backend's history is unavailable; the execution may be another's
        if found is not None:
            return backend, found[0], found[1]
    raise ExecutionNotFoundError(execution_id)


async def _recorded(backends: Holders, execution_id: str) -> tuple[ExecutionHolder, dict[str, Any]]:
    for backend in backends:
        if backend.history is None:
            continue
        try:
            found = await backend.history.get_execution(execution_id)
        except SidecarError:
            continue
        if found is not None:
            return backend, found
    raise ExecutionNotFoundError(execution_id)


async def pin(backends: Holders, execution_id: str) -> dict[str, Any]:
    """The canvas overlay of one execution (``sidecar.debugging.pin``); a running one shows its steps so
    far."""
    # One read on the history's read thread: the light steps, folded there (the event loop stays free
    # while a long execution is folded), then the payloads of the one run per node the overlay shows.
    for holder in backends:
        if holder.history is None:
            continue

        def view(execution: ExecutionRow, steps: Any, payloads: Any, holder: Any = holder) -> Any:
            workflow, places = _workflow_places(holder, execution.workflow_id)
            key = pin_cache.key_of(execution, workflow)
            kept = holder.running.pin_cache.get(key)
            if kept is not None:
                return kept
            fold = overlay.PinFold(execution, steps(), places)
            pinned = fold.to_json(payloads(fold.shown_step_ids()))
            holder.running.pin_cache.put(key, pinned)
            return pinned

        try:
            found: dict[str, Any] | None = await holder.history.light_view(execution_id, view)
        except SidecarError:
            continue  # this backend's history is unavailable; the execution may be another's
        if found is not None:
            backend, pinned = holder, found
            break
    else:
        raise ExecutionNotFoundError(execution_id)
    pinned["backendId"] = backend.backend_id
    debug = backend.running.debug_session(execution_id)
    if debug is not None and debug.paused_at is not None:
        pinned["paused"] = debug.paused_at
    return pinned


def _child_places(backend: ExecutionHolder, function: str) -> dict[str, overlay.ChildPlace]:
    """Which node ids belong to template components, from the workflow as deployed now (a redeploy
    since the run may move nodes; unknown ones stay canvas nodes)."""
    return _workflow_places(backend, function)[1]


def _workflow_places(backend: ExecutionHolder, function: str) -> tuple[object, dict[str, overlay.ChildPlace]]:
    """The deployed export the places come from (None when there is none), and the places."""
    workflows = getattr(backend, "workflows", None)
    bundle = workflows.find(function) if workflows is not None and workflows.initialized else None
    runtime = getattr(bundle, "runtime", None)
    if runtime is None:
        return None, {}
    return runtime.export, overlay.child_places(runtime.export.components, CLOUD_PREFIX + function)


def execution_of_step(step_id: str) -> str:
    """Step ids are ``step_<execution id without exec_>_<index>`` (``sidecar.history.rows.step_id``)."""
    body, _, index = step_id.removeprefix("step_").rpartition("_")
    if not step_id.startswith("step_") or not body or not index.isdigit():
        raise InvalidParamsError(f"not a step id: {step_id!r}")
    return "exec_" + body


async def step_value(backends: Holders, step_id: str, side: str, port: str | None) -> dict[str, Any]:
    """One port's whole stored value (``side`` ``input`` or ``output``; no port: the whole side)."""
    execution_id = execution_of_step(step_id)
    for backend in backends:
        if backend.history is None:
            continue
        try:
            step = await backend.history.get_step(step_id)
        except SidecarError:
            continue
        if step is not None and step.execution_id == execution_id:
            return overlay.step_value(step, side, port)
    raise ExecutionNotFoundError(step_id)


async def rerun(backends: Holders, execution_id: str, edits: Any = None) -> dict[str, Any]:
    """Run a past execution's function again, with ``edits`` (``sidecar.debugging.replay``) if given.

    ``{statusCode, body, omitted, executionId?, inputChanges?}``; the new run's metadata names the
    original as ``retryOf`` and, for an edited request, lists ``inputChanges``.
    """
    from sidecar.backends import functions
    from sidecar.history import rerun_request

    parsed = None if edits is None else RerunEdits.from_wire(edits)
    backend, recorded = await _recorded(backends, execution_id)
    request = rerun_request(recorded) if parsed is None else edited_rerun_request(recorded, parsed)
    response, new_id = await functions.invoke_recorded(
        cast("Backend", backend), request.function, request.body, request.headers, request.trigger
    )
    result: dict[str, Any] = {
        "statusCode": response.status_code,
        "body": response.body,
        "omitted": list(request.omitted),
    }
    if new_id is not None:
        result["executionId"] = new_id
    if parsed is not None:
        result["inputChanges"] = list(request.trigger.extra.get("inputChanges", []))
    return result


def get_pins(backend: ExecutionHolder, function: str) -> dict[str, Any]:
    """The saved pins of one function: ``{function, pins: {nodeId: {port: value}}}``."""
    return {"function": function, "pins": backend.running.saved_pins.get(function, {})}


def set_pins(backend: ExecutionHolder, function: str, pins: Any) -> dict[str, Any]:
    """Replace the saved pins of one function (test runs only use them); ``{}`` clears them."""
    from sidecar.debugging import testrun

    checked = testrun.check_pins(testrun.function_component(cast("Backend", backend), function), pins)
    if checked:
        backend.running.saved_pins[function] = checked
    else:
        backend.running.saved_pins.pop(function, None)
    return get_pins(backend, function)


async def run_test(
    backend: ExecutionHolder,
    function: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    pins: Any = None,
    breakpoints: Any = None,
    use_saved_pins: bool = True,
    source: str = "editor debug:test-run",
) -> dict[str, Any]:
    """A test run of ``function`` with the saved pins (unless ``use_saved_pins`` is false), ``pins``
    merged over them, and ``breakpoints``: ``{statusCode, body, executionId?, pinnedNodes, pauses}``."""
    from sidecar.backends import functions
    from sidecar.debugging import testrun
    from sidecar.debugging.session import DebugPlan, DebugSession
    from sidecar.history import RunTrigger

    holder = cast("Backend", backend)
    component = testrun.function_component(holder, function)
    merged = dict(backend.running.saved_pins.get(function, {})) if use_saved_pins else {}
    merged.update(testrun.check_pins(component, pins))
    stops = testrun.check_breakpoints(component, breakpoints)
    if stops and backend.history is None:
        raise InvalidParamsError("breakpoints need the execution history, which is off for this backend")
    extra: dict[str, Any] = {}
    if merged:
        extra["pinnedNodes"] = sorted(merged)
    if stops:
        extra["breakpoints"] = sorted(stops)
    trigger = RunTrigger("test", trigger_source=source, extra=extra)
    debug = DebugSession(DebugPlan(pins=merged, breakpoints=stops)) if merged or stops else None
    text = body if isinstance(body, str) else json.dumps({} if body is None else body, separators=(",", ":"))
    response, new_id = await functions.invoke_recorded(
        holder, function, text, dict(headers or {}), trigger, debug
    )
    result: dict[str, Any] = {"statusCode": response.status_code, "body": response.body}
    if new_id is not None:
        result["executionId"] = new_id
    result["pinnedNodes"] = sorted(merged)
    result["pauses"] = [] if debug is None else list(debug.pauses)
    return result


async def run_from(
    backends: Holders, execution_id: str, node_id: str, pins: Any = None, breakpoints: Any = None
) -> dict[str, Any]:
    """A test run from ``node_id`` of a past execution: its request again, the nodes upstream of
    ``node_id`` replayed from its steps (``sidecar.debugging.testrun``). ``{statusCode, body,
    executionId?, runFrom: {executionId, nodeId}, replayedNodes, pauses}``."""
    from sidecar.backends import functions
    from sidecar.debugging import testrun
    from sidecar.debugging.session import DebugPlan, DebugSession
    from sidecar.history import RunTrigger, rerun_request

    backend, execution, steps = await _rows(backends, execution_id)
    holder = cast("Backend", backend)
    component = testrun.function_component(holder, execution.workflow_id)
    plan = testrun.replay_plan(component, execution, steps, node_id)
    recorded = {
        "id": execution.id,
        "workflowId": execution.workflow_id,
        "triggerData": overlay.load_json(execution.trigger_data),
    }
    request = rerun_request(recorded)
    own_pins = testrun.check_pins(component, pins)
    stops = testrun.check_breakpoints(component, breakpoints)
    extra = {
        "runFrom": {"executionId": execution.id, "nodeId": node_id},
        "replayedNodes": plan.replayed,
    }
    if own_pins:
        extra["pinnedNodes"] = sorted(own_pins)
    if stops:
        extra["breakpoints"] = sorted(stops)
    replays = {key: value for key, value in plan.replays.items() if key not in own_pins}
    debug = DebugSession(DebugPlan(pins=own_pins, replays=replays, breakpoints=stops))
    trigger = RunTrigger("test", trigger_source="run-from", extra=extra)
    response, new_id = await functions.invoke_recorded(
        holder, request.function, request.body, request.headers, trigger, debug
    )
    result: dict[str, Any] = {
        "statusCode": response.status_code,
        "body": response.body,
        "runFrom": extra["runFrom"],
        "replayedNodes": plan.replayed,
        "omitted": list(request.omitted),
        "pauses": list(debug.pauses),
    }
    if new_id is not None:
        result["executionId"] = new_id
    return result


def resume(backends: Holders, execution_id: str, step: bool) -> dict[str, Any]:
    """Continue (``step`` false) or step a test run paused at a breakpoint; 409 when it is not paused."""
    for backend in backends:
        debug = backend.running.debug_session(execution_id)
        if debug is not None:
            answer: dict[str, Any] = debug.resume(execution_id, step)
            return answer
    from sidecar.errors import ExecutionNotPausedError

    raise ExecutionNotPausedError(execution_id)


async def cancel(backends: Holders, execution_id: str) -> dict[str, Any]:
    """Stop a running execution: ``{cancelled: true, executionId, nodeId?}``; the run's caller gets the
    ``function/cancelled`` answer. 409 ``ExecutionNotRunningError`` for a finished one, 404 for none."""
    for backend in backends:
        cancelled = backend.running.cancel(execution_id)
        if cancelled is not None:
            return cancelled
    _backend, execution, _steps = await _rows(backends, execution_id)
    raise ExecutionNotRunningError(execution_id, execution.status)
