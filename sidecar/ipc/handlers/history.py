"""Execution history channels and live execution events."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from sidecar.backends import executions
from sidecar.backends.manager import BackendManager
from sidecar.ipc.methods import CallContext, MethodTable, Notify
from sidecar.lazy import LazyModule

# Models of channels a session may never call: imported on first use (ipc_schema.deferred).
if TYPE_CHECKING:
    from ipc_schema import history as h
else:
    h = LazyModule("ipc_schema.history")


def register_history_methods(table: MethodTable, manager: BackendManager, notify: Notify) -> None:
    @table.method("execution-history:list")
    async def list_executions(_ctx: CallContext, params: h.ExecutionQueryParams) -> dict[str, Any]:
        return await executions.list_executions(manager.running_backends(), params.query)

    @table.method("execution-history:get")
    async def get_execution(_ctx: CallContext, params: h.ExecutionIdParams) -> dict[str, Any] | None:
        return await executions.get_execution(manager.running_backends(), params.execution_id)

    @table.method("execution-history:delete")
    async def delete_execution(_ctx: CallContext, params: h.ExecutionIdParams) -> dict[str, Any]:
        return await executions.delete_execution(manager.running_backends(), params.execution_id)

    @table.method("execution-history:clear")
    async def clear(_ctx: CallContext, params: h.ExecutionQueryParams) -> dict[str, Any]:
        return await executions.clear_executions(manager.running_backends(), params.query)

    @table.method("execution-history:stats")
    async def stats(_ctx: CallContext, params: h.StatsParams) -> dict[str, Any]:
        request = params.request
        return await executions.stats(manager.running_backends(), request.backend_id, request.workflow_id)

    forwarders: dict[str, asyncio.Task[None]] = {}

    @table.method("execution:subscribe")
    async def subscribe(_ctx: CallContext, params: h.SubscribeParams) -> str:
        wanted = params.subscription
        manager.registry.require(wanted.backend_id)
        # A sink: each event becomes a frame inside publish, so it never waits for a busy loop
        # (sidecar.events.bus). The task only notices the end of the subscription.
        subscription = manager.bus.subscribe(
            wanted.backend_id,
            wanted.workflow_id,
            sink=lambda event: notify(str(event.kind), [event.to_wire()]),
        )

        async def until_closed() -> None:
            async for _event in subscription:
                pass
            forwarders.pop(subscription.id, None)

        forwarders[subscription.id] = asyncio.get_running_loop().create_task(until_closed())
        return str(subscription.id)

    @table.method("execution:unsubscribe")
    async def unsubscribe(_ctx: CallContext, params: h.UnsubscribeParams) -> bool:
        forwarder = forwarders.pop(params.subscription_id, None)
        if forwarder is not None:
            forwarder.cancel()
        return bool(manager.bus.unsubscribe(params.subscription_id)) or forwarder is not None
