"""Monitoring channels: ``monitoring:metrics``, the per-second feed ``monitoring:subscribe`` /
``monitoring:unsubscribe`` (``monitoring:tick`` notifications), and the alert channels ``alerts:*``
(``sidecar.monitoring.alerts.manage``; the same operations as ``/admin/alerts/*``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ipc_schema import backends as b
from sidecar.backends.manager import BackendManager
from sidecar.ipc.methods import CallContext, MethodTable
from sidecar.lazy import LazyModule

# Models of channels a session may never call: imported on first use (ipc_schema.deferred).
if TYPE_CHECKING:
    from ipc_schema import monitoring as m
else:
    m = LazyModule("ipc_schema.monitoring")


if TYPE_CHECKING:  # imported when a call needs it: monitoring is not loaded at start-up
    from sidecar.monitoring.alerts import AlertEngine
    from sidecar.monitoring.live import LiveFeed


def register_monitoring_methods(table: MethodTable, manager: BackendManager) -> None:
    @table.method("monitoring:metrics")
    async def metrics(_ctx: CallContext, params: m.MetricsParams) -> dict[str, Any]:
        request = params.request
        backend = manager.running(request.backend_id, "read its metrics")
        query = request.model_dump(by_alias=True, exclude_none=True, exclude={"backend_id"})
        result: dict[str, Any] = await backend.monitoring.metrics(query)
        return result

    feeds: dict[str, LiveFeed] = {}

    @table.method("monitoring:subscribe")
    async def subscribe(ctx: CallContext, params: m.FeedSubscribeParams) -> str:
        feed: LiveFeed = manager.running(params.backend_id, "follow its runs").monitoring.live
        notify = ctx.notify
        local_id = feed.subscribe(lambda frame: notify("monitoring:tick", [frame]))
        subscription_id = f"{params.backend_id}/{local_id}"
        feeds[subscription_id] = feed
        return subscription_id

    @table.method("monitoring:unsubscribe")
    async def unsubscribe(_ctx: CallContext, params: m.FeedUnsubscribeParams) -> bool:
        feed = feeds.pop(params.subscription_id, None)
        return feed is not None and feed.unsubscribe(params.subscription_id.rpartition("/")[2])

    def engine(backend_id: str) -> AlertEngine:
        found: AlertEngine = manager.running(backend_id, "manage its alerts").monitoring.alerts
        return found

    @table.method("alerts:config")
    async def config(_ctx: CallContext, params: b.BackendIdParams) -> dict[str, Any]:
        from sidecar.monitoring.alerts import manage

        return manage.get_config(engine(params.backend_id))

    @table.method("alerts:put-rule")
    async def put_rule(_ctx: CallContext, params: m.AlertRuleParams) -> dict[str, Any]:
        from sidecar.monitoring.alerts import manage

        return manage.put_rule(engine(params.backend_id), params.rule)

    @table.method("alerts:delete-rule")
    async def delete_rule(_ctx: CallContext, params: m.AlertItemParams) -> dict[str, Any]:
        from sidecar.monitoring.alerts import manage

        return manage.delete_rule(engine(params.backend_id), params.id)

    @table.method("alerts:put-channel")
    async def put_channel(_ctx: CallContext, params: m.AlertChannelParams) -> dict[str, Any]:
        from sidecar.monitoring.alerts import manage

        return manage.put_channel(engine(params.backend_id), params.channel)

    @table.method("alerts:delete-channel")
    async def delete_channel(_ctx: CallContext, params: m.AlertItemParams) -> dict[str, Any]:
        from sidecar.monitoring.alerts import manage

        return manage.delete_channel(engine(params.backend_id), params.id)

    @table.method("alerts:list")
    async def list_alerts(_ctx: CallContext, params: m.AlertListParams) -> dict[str, Any]:
        from sidecar.monitoring.alerts import manage

        return manage.list_alerts(engine(params.backend_id), params.limit)

    @table.method("alerts:test-send")
    async def send_test(_ctx: CallContext, params: m.AlertItemParams) -> dict[str, Any]:
        from sidecar.monitoring.alerts import manage

        return await manage.test_send(engine(params.backend_id), params.id)
