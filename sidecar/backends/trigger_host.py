"""What the trigger service needs from a backend: its functions and its execution history."""

from __future__ import annotations

import json
import secrets
from typing import TYPE_CHECKING

import structlog

from sidecar.backends import functions

if TYPE_CHECKING:
    from sidecar.backends.backend import Backend
    from sidecar.triggers import FunctionRequest, Rejection, TriggerInfo

log = structlog.get_logger("sidecar.backends.triggers")


class TriggerFunctions:
    """The triggers' ``FunctionTarget``: fires run like any call, recorded with their trigger."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def has_function(self, name: str) -> bool:
        workflows = self._backend.workflows
        return workflows is not None and workflows.find(name) is not None

    async def invoke(self, name: str, request: FunctionRequest, trigger: TriggerInfo) -> tuple[int, str]:
        from sidecar.history import RunTrigger

        run_trigger = RunTrigger(
            trigger.kind.value, trigger_source=trigger.source, trigger_id=trigger.trigger_id
        )
        response = await functions.invoke(
            self._backend, name, request.body, dict(request.headers), run_trigger
        )
        return response.status_code, response.body


class HistoryRejections:
    """The triggers' ``RejectionRecorder``: a fire that never ran is a failed execution row."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    async def record_rejection(self, rejection: Rejection) -> None:
        from sidecar.history import RunTrigger

        history = self._backend.history
        trigger = RunTrigger(
            rejection.kind.value,
            trigger_source=rejection.source,
            trigger_id=rejection.trigger_id,
            extra={"rejected": True},
        )
        recorder = history.recorder_for(trigger) if history is not None else None
        if recorder is None:
            log.warning(
                "trigger_rejected_unrecorded", trigger_id=rejection.trigger_id, reason=rejection.reason
            )
            return
        run_id = f"rejected_{secrets.token_hex(6)}"
        recorder.run_started(
            run_id, rejection.workflow_id, {"headers": {}, "body": dict(rejection.trigger_data)}
        )
        body = json.dumps({"error": rejection.reason})
        recorder.run_finished(run_id, rejection.status_code, body, "rejected")
