"""Debugging channels: pin an execution to the canvas, one port's full value, edited re-runs, cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sidecar import preload
from sidecar.backends.manager import BackendManager
from sidecar.ipc.methods import CallContext, MethodTable
from sidecar.lazy import LazyModule

# Models of channels a session may never call: imported on first use (ipc_schema.deferred).
if TYPE_CHECKING:
    from ipc_schema import debugging as dbg
    from ipc_schema import history as h
else:
    dbg = LazyModule("ipc_schema.debugging")
    h = LazyModule("ipc_schema.history")


def register_debugging_methods(table: MethodTable, manager: BackendManager) -> None:
    @table.method("execution:pin")
    async def pin(_ctx: CallContext, params: h.ExecutionIdParams) -> dict[str, Any]:
        await preload.services_loaded()
        from sidecar.debugging import service

        return await service.pin(manager.running_backends(), params.execution_id)

    @table.method("execution:step-value")
    async def step_value(_ctx: CallContext, params: dbg.StepValueParams) -> dict[str, Any]:
        await preload.services_loaded()
        from sidecar.debugging import service

        wanted = params.request
        return await service.step_value(manager.running_backends(), wanted.step_id, wanted.side, wanted.port)

    @table.method("execution-history:rerun")
    async def rerun(_ctx: CallContext, params: dbg.RerunParams) -> dict[str, Any]:
        await preload.services_loaded()
        from sidecar.debugging import service

        edits = None if params.edits is None else params.edits.model_dump(by_alias=True, exclude_unset=True)
        return await service.rerun(manager.running_backends(), params.execution_id, edits)

    @table.method("execution:cancel")
    async def cancel(_ctx: CallContext, params: h.ExecutionIdParams) -> dict[str, Any]:
        await preload.services_loaded()
        from sidecar.debugging import service

        return await service.cancel(manager.running_backends(), params.execution_id)

    @table.method("debug:get-pins")
    async def get_pins(_ctx: CallContext, params: dbg.PinsParams) -> dict[str, Any]:
        await preload.services_loaded()
        from sidecar.debugging import service

        return service.get_pins(manager.running(params.backend_id, "read pins"), params.name)

    @table.method("debug:set-pins")
    async def set_pins(_ctx: CallContext, params: dbg.SetPinsParams) -> dict[str, Any]:
        await preload.services_loaded()
        from sidecar.debugging import service

        return service.set_pins(manager.running(params.backend_id, "pin node data"), params.name, params.pins)

    @table.method("debug:test-run")
    async def debug_test_run(_ctx: CallContext, params: dbg.TestRunParams) -> dict[str, Any]:
        await preload.services_loaded()
        from sidecar.debugging import service

        options = params.options
        return await service.run_test(
            manager.running(params.backend_id, "run a function"),
            params.name,
            options.body,
            options.headers,
            options.pins,
            options.breakpoints,
            options.use_saved_pins,
        )

    @table.method("execution:run-from")
    async def run_from(_ctx: CallContext, params: dbg.RunFromParams) -> dict[str, Any]:
        await preload.services_loaded()
        from sidecar.debugging import service

        options = params.options
        return await service.run_from(
            manager.running_backends(), params.execution_id, params.node_id, options.pins, options.breakpoints
        )

    @table.method("execution:continue")
    async def resume(_ctx: CallContext, params: h.ExecutionIdParams) -> dict[str, Any]:
        await preload.services_loaded()
        from sidecar.debugging import service

        return service.resume(manager.running_backends(), params.execution_id, step=False)

    @table.method("execution:step")
    async def step(_ctx: CallContext, params: h.ExecutionIdParams) -> dict[str, Any]:
        await preload.services_loaded()
        from sidecar.debugging import service

        return service.resume(manager.running_backends(), params.execution_id, step=True)
