"""The debugging operations over the running backends, as both doors call them.

Each finds the backend that holds the execution (ids are unique across backends), so the editor
passes only an execution or step id. Door mapping:

- ``execution:pin`` / ``GET /executions/:id/pin`` → :func:`pin`
- ``execution:step-value`` / ``GET /executions/:id/steps/:stepId/:side?port=`` → :func:`step_value`
- ``execution-history:rerun`` / ``POST /executions/:id/rerun`` → :func:`rerun` (edits optional)
- ``execution:cancel`` / ``POST /executions/:id/cancel`` → :func:`cancel`
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

from sidecar.debugging import pin as overlay
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
    backend, execution, steps = await _rows(backends, execution_id)
    pinned = overlay.pin_execution(execution, steps, _child_places(backend, execution.workflow_id))
    pinned["backendId"] = backend.backend_id
    return pinned


def _child_places(backend: ExecutionHolder, function: str) -> dict[str, overlay.ChildPlace]:
    """Which node ids belong to template components, from the workflow as deployed now (a redeploy
    since the run may move nodes; unknown ones stay canvas nodes)."""
    workflows = getattr(backend, "workflows", None)
    bundle = workflows.find(function) if workflows is not None and workflows.initialized else None
    runtime = getattr(bundle, "runtime", None)
    if runtime is None:
        return {}
    return overlay.child_places(runtime.export.components, CLOUD_PREFIX + function)


def execution_of_step(step_id: str) -> str:
    """Step ids are ``step_<execution id without exec_>_<index>`` (``sidecar.history.rows.step_id``)."""
    body, _, index = step_id.removeprefix("step_").rpartition("_")
    if not step_id.startswith("step_") or not body or not index.isdigit():
        raise InvalidParamsError(f"not a step id: {step_id!r}")
    return "exec_" + body


async def step_value(backends: Holders, step_id: str, side: str, port: str | None) -> dict[str, Any]:
    """One port's whole stored value (``side`` ``input`` or ``output``; no port: the whole side)."""
    _backend, _execution, steps = await _rows(backends, execution_of_step(step_id))
    for step in steps:
        if step.id == step_id:
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


async def cancel(backends: Holders, execution_id: str) -> dict[str, Any]:
    """Stop a running execution: ``{cancelled: true, executionId, nodeId?}``; the run's caller gets the
    ``function/cancelled`` answer. 409 ``ExecutionNotRunningError`` for a finished one, 404 for none."""
    for backend in backends:
        cancelled = backend.running.cancel(execution_id)
        if cancelled is not None:
            return cancelled
    _backend, execution, _steps = await _rows(backends, execution_id)
    raise ExecutionNotRunningError(execution_id, execution.status)
