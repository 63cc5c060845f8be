"""Monitoring channels: ``monitoring:metrics``."""

from __future__ import annotations

from typing import Any

from ipc_schema import monitoring as m
from sidecar.backends.manager import BackendManager
from sidecar.ipc.methods import CallContext, MethodTable


def register_monitoring_methods(table: MethodTable, manager: BackendManager) -> None:
    @table.method("monitoring:metrics")
    async def metrics(_ctx: CallContext, params: m.MetricsParams) -> dict[str, Any]:
        request = params.request
        backend = manager.running(request.backend_id, "read its metrics")
        query = request.model_dump(by_alias=True, exclude_none=True, exclude={"backend_id"})
        result: dict[str, Any] = await backend.monitoring.metrics(query)
        return result
