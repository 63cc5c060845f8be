"""The deploy channels: a backend's bundle and its container build context, with ``$/progress`` stages.

They work on a stopped backend (its files and SQLite are read) and on a running one (its open store).
The deploy package is loaded by the first call, not with the protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ipc_schema import deploy as d
from sidecar.backends.manager import BackendManager
from sidecar.ipc.methods import CallContext, MethodTable


def register_deploy_methods(table: MethodTable, manager: BackendManager) -> None:
    def store_of(backend_id: str) -> Any:
        running = [backend for backend in manager.running_backends() if backend.backend_id == backend_id]
        return running[0].store if running else None

    @table.method("deploy:bundle")
    async def bundle(ctx: CallContext, params: d.DeployOutParams) -> d.BundleWritten:
        from sidecar.deploy.service import bundle_summary, make_bundle

        manager.registry.require(params.backend_id)
        ctx.progress("begin", title="Deploy bundle")
        try:
            out_dir = Path(params.out_dir)
            made = await make_bundle(
                manager.registry.data_dir(params.backend_id),
                out_dir,
                store=store_of(params.backend_id),
                on_stage=lambda message, percent: ctx.progress("report", message=message, percentage=percent),
            )
        finally:
            ctx.progress("end")
        return d.BundleWritten.model_validate(bundle_summary(made, out_dir))

    @table.method("deploy:build-context")
    async def build_context(ctx: CallContext, params: d.BuildContextParams) -> d.BuildContextWritten:
        from sidecar.deploy.context import DEFAULT_BASE_IMAGE
        from sidecar.deploy.service import make_build_context

        manager.registry.require(params.backend_id)
        ctx.progress("begin", title="Container build context")
        try:
            written = await make_build_context(
                manager.registry.data_dir(params.backend_id),
                Path(params.out_dir),
                store=store_of(params.backend_id),
                base_image=params.options.base_image or DEFAULT_BASE_IMAGE,
                on_stage=lambda message, percent: ctx.progress("report", message=message, percentage=percent),
            )
        finally:
            ctx.progress("end")
        return d.BuildContextWritten.model_validate(written)
