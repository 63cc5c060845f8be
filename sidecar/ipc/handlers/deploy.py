"""The deploy channels: a backend's bundle and its container build context, with ``$/progress`` stages.

They work on a stopped backend (its files and SQLite are read) and on a running one (its open store).
The deploy package is loaded by the first call, not with the protocol.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ipc_schema import backends as b
from sidecar.backends.manager import BackendManager
from sidecar.ipc.methods import CallContext, MethodTable
from sidecar.lazy import LazyModule

# Models of channels a session may never call: imported on first use (ipc_schema.deferred).
if TYPE_CHECKING:
    from ipc_schema import deploy as d
else:
    d = LazyModule("ipc_schema.deploy")


if TYPE_CHECKING:
    from sidecar.deploy.targets import Target


def register_deploy_methods(table: MethodTable, manager: BackendManager) -> None:
    register_cloud_deploy_methods(table, manager)

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


def register_cloud_deploy_methods(table: MethodTable, manager: BackendManager) -> None:
    """Targets, the deploy flow with ``$/progress`` (``$/cancelRequest`` cancels it and restores the
    previous release), releases and rollback, env vars and secrets, custom domains."""

    def data_dir(backend_id: str) -> Path:
        manager.registry.require(backend_id)
        return manager.registry.data_dir(backend_id)

    def store_of(backend_id: str) -> Any:
        running = [backend for backend in manager.running_backends() if backend.backend_id == backend_id]
        return running[0].store if running else None

    def described(folder: Path, name: str, entry: dict[str, Any]) -> d.DeployTarget:
        from sidecar.deploy.targets import TargetSecrets

        secrets = TargetSecrets(folder, name).names()
        return d.DeployTarget.model_validate({**entry, "secrets": secrets})

    @table.method("deploy:targets")
    async def targets(ctx: CallContext, params: b.BackendIdParams) -> d.DeployTargets:
        from sidecar.deploy.targets import TargetStore

        folder = data_dir(params.backend_id)
        listed = await asyncio.to_thread(TargetStore(folder).list)
        return d.DeployTargets(
            targets={name: described(folder, name, entry) for name, entry in listed.items()}
        )

    @table.method("deploy:target-set")
    async def target_set(ctx: CallContext, params: d.TargetSetParams) -> d.DeployTarget:
        from sidecar.deploy.targets import TargetStore

        folder = data_dir(params.backend_id)
        settings = params.settings
        target = await asyncio.to_thread(
            TargetStore(folder).configure,
            params.target,
            settings.provider,
            settings.app,
            region=settings.region,
            api_base=settings.api_base,
            registry=settings.registry,
            public_url=settings.public_url,
            token_credential=settings.token_credential,
            options=settings.options,
        )
        return described(folder, params.target, target.to_json())

    def progress(ctx: CallContext) -> Callable[[str, float], None]:
        return lambda message, percent: ctx.progress("report", message=message, percentage=percent)

    @table.method("deploy:run")
    async def run(ctx: CallContext, params: d.TargetParams) -> d.Release:
        from sidecar.deploy import flow

        folder = data_dir(params.backend_id)
        ctx.progress("begin", title=f"Deploy to {params.target}")
        try:
            release = await flow.deploy(
                folder, params.target, store=store_of(params.backend_id), on_stage=progress(ctx)
            )
        finally:
            ctx.progress("end")
        return d.Release.model_validate(release)

    @table.method("deploy:releases")
    async def releases(ctx: CallContext, params: d.TargetParams) -> d.Releases:
        from sidecar.deploy.releases import ReleaseLog
        from sidecar.deploy.targets import validate_target

        folder = data_dir(params.backend_id)
        listed = await asyncio.to_thread(ReleaseLog(folder, validate_target(params.target)).all)
        return d.Releases(releases=[d.Release.model_validate(item) for item in listed])

    @table.method("deploy:rollback")
    async def rollback(ctx: CallContext, params: d.RollbackParams) -> d.Release:
        from sidecar.deploy import flow

        folder = data_dir(params.backend_id)
        ctx.progress("begin", title=f"Roll {params.target} back to release {params.version}")
        try:
            release = await flow.rollback(folder, params.target, params.version, on_stage=progress(ctx))
        finally:
            ctx.progress("end")
        return d.Release.model_validate(release)

    @table.method("deploy:env-set")
    async def env_set(ctx: CallContext, params: d.EnvSetParams) -> d.DeployTarget:
        from sidecar.deploy.targets import TargetStore

        folder = data_dir(params.backend_id)
        store = TargetStore(folder)

        def change() -> Target:
            target = store.set_env(params.target, dict(params.env))
            for name, value in params.secrets.items():
                target = store.set_secret(params.target, name, value)
            return target

        target = await asyncio.to_thread(change)
        return described(folder, params.target, target.to_json())

    @table.method("deploy:env-plan")
    async def env_plan(ctx: CallContext, params: d.TargetParams) -> d.EnvPlan:
        from sidecar.deploy import flow

        return d.EnvPlan.model_validate(
            await flow.environment_plan(data_dir(params.backend_id), params.target)
        )

    @table.method("deploy:env-apply")
    async def env_apply(ctx: CallContext, params: d.TargetParams) -> d.EnvApplied:
        from sidecar.deploy import flow

        folder = data_dir(params.backend_id)
        ctx.progress("begin", title=f"Apply env vars and secrets to {params.target}")
        try:
            applied = await flow.apply_environment(folder, params.target, on_stage=progress(ctx))
        finally:
            ctx.progress("end")
        return d.EnvApplied.model_validate(applied)

    @table.method("deploy:domain")
    async def domain(ctx: CallContext, params: d.DomainParams) -> d.DomainEntry:
        from sidecar.deploy import flow

        folder = data_dir(params.backend_id)
        ctx.progress("begin", title=f"Custom domain {params.hostname}")
        try:
            entry = await flow.add_domain(
                folder, params.target, params.hostname, wait_s=params.wait_seconds, on_stage=progress(ctx)
            )
        finally:
            ctx.progress("end")
        return d.DomainEntry.model_validate(entry)
