"""What the trigger service needs from a backend's functions (its history records rejections itself)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sidecar.backends import functions

if TYPE_CHECKING:
    from sidecar.backends.backend import Backend
    from sidecar.triggers import FunctionRequest, TriggerInfo


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
