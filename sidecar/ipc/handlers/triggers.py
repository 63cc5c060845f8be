"""The editor's trigger channels, answered by the running backend's trigger service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ipc_schema import backends as b
from sidecar.backends.manager import BackendManager
from sidecar.ipc.methods import CallContext, MethodTable
from sidecar.lazy import LazyModule

# Models of channels a session may never call: imported on first use (ipc_schema.deferred).
if TYPE_CHECKING:
    from ipc_schema import triggers as t
else:
    t = LazyModule("ipc_schema.triggers")


def register_trigger_methods(table: MethodTable, manager: BackendManager) -> None:
    def service(backend_id: str, action: str) -> Any:
        return manager.running(backend_id, action).triggers

    @table.method("backend:listTriggers")
    async def list_triggers(_ctx: CallContext, params: b.BackendIdParams) -> dict[str, Any]:
        result: dict[str, Any] = service(params.backend_id, "list triggers").list_triggers()
        return result

    @table.method("backend:getTrigger")
    async def get_trigger(_ctx: CallContext, params: t.TriggerIdParams) -> dict[str, Any]:
        result: dict[str, Any] = service(params.backend_id, "read a trigger").get_trigger(params.trigger_id)
        return result

    @table.method("backend:createTrigger")
    async def create_trigger(_ctx: CallContext, params: t.CreateTriggerParams) -> dict[str, Any]:
        result: dict[str, Any] = await service(params.backend_id, "create a trigger").create_trigger(
            params.definition
        )
        return result

    @table.method("backend:updateTrigger")
    async def update_trigger(_ctx: CallContext, params: t.UpdateTriggerParams) -> dict[str, Any]:
        triggers = service(params.backend_id, "update a trigger")
        result: dict[str, Any] = await triggers.update_trigger(params.trigger_id, params.definition)
        return result

    @table.method("backend:setTriggerEnabled")
    async def set_enabled(_ctx: CallContext, params: t.SetTriggerEnabledParams) -> dict[str, Any]:
        triggers = service(params.backend_id, "enable or disable a trigger")
        result: dict[str, Any] = await triggers.set_trigger_enabled(params.trigger_id, params.enabled)
        return result

    @table.method("backend:deleteTrigger")
    async def delete_trigger(_ctx: CallContext, params: t.TriggerIdParams) -> dict[str, Any]:
        result: dict[str, Any] = service(params.backend_id, "delete a trigger").delete_trigger(
            params.trigger_id
        )
        return result

    @table.method("backend:fireTrigger")
    async def fire_trigger(_ctx: CallContext, params: t.FireTriggerParams) -> dict[str, Any]:
        triggers = service(params.backend_id, "fire a trigger")
        result: dict[str, Any] = await triggers.fire_trigger(params.trigger_id, params.payload)
        return result
