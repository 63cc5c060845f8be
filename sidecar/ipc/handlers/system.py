"""Methods about the sidecar process itself."""

from __future__ import annotations

from ipc_schema.base import NoParams
from ipc_schema.system import SelftestCheck, SelftestResult
from sidecar import selftest
from sidecar.ipc.methods import CallContext, MethodTable


def register_system_methods(table: MethodTable) -> None:
    @table.method("sidecar:selftest")
    async def run_selftest(ctx: CallContext, _params: NoParams) -> SelftestResult:
        ctx.progress("begin", title="Self-test")

        def on_step(name: str, index: int, total: int) -> None:
            ctx.progress("report", message=name, percentage=100.0 * index / total)

        outcomes = await selftest.run_selftest(on_step)
        ctx.progress("end")
        checks = [SelftestCheck(name=o.name, ok=o.ok, ms=o.ms, detail=o.detail) for o in outcomes]
        return SelftestResult(ok=all(check.ok for check in checks), checks=checks)
