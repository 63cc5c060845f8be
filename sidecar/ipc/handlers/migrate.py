"""``backend:migrate-to-postgres``: an embedded backend copied into PostgreSQL (``sidecar.migrate``), with
``$/progress`` per stage. The backend must be stopped: what it wrote during the copy could stay behind.
The migration package is loaded by the first call, not with the protocol."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sidecar.backends.manager import BackendManager
from sidecar.errors import MigrationRefusedError
from sidecar.ipc.methods import CallContext, MethodTable
from sidecar.lazy import LazyModule

# Models of a channel a session may never call: imported on first use (ipc_schema.deferred).
if TYPE_CHECKING:
    from ipc_schema import migrate as mg
else:
    mg = LazyModule("ipc_schema.migrate")


def register_migrate_methods(table: MethodTable, manager: BackendManager) -> None:
    @table.method("backend:migrate-to-postgres")
    async def migrate(ctx: CallContext, params: mg.MigrateParams) -> mg.Migrated:
        from sidecar.migrate import migrate_to_postgres

        manager.registry.require(params.backend_id)
        if any(backend.backend_id == params.backend_id for backend in manager.running_backends()):
            raise MigrationRefusedError(
                f"stop backend {params.backend_id} before migrating it: its writes during the copy "
                "could stay behind"
            )

        def report(stage: str, done: int, total: int) -> None:
            ctx.progress("report", message=f"{stage} {done}/{total}", percentage=100.0 * done / max(total, 1))

        ctx.progress("begin", title="Migrating to PostgreSQL")
        try:
            done = await migrate_to_postgres(
                manager.registry.data_dir(params.backend_id),
                params.options.database_url,
                resume=params.options.resume,
                progress=report,
            )
        finally:
            ctx.progress("end")
        return mg.Migrated.model_validate(done)
