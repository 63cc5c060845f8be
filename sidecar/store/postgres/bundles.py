"""Workflow bundles shared by the replicas of one backend: ``noodl_bundles``, one row per bundle name.

A replica that deploys, rolls back or removes a bundle writes the row (the export, or NULL for a removal, and
its content hash) and, in the same transaction, notifies ``noodl_bundles`` with the name. Every replica,
the writer included, then reads the row back and installs it unless it runs that content already; reading the
row rather than trusting the notification means that when two replicas deploy one bundle at once, all of
them end on the content committed last. A replica starting (or whose LISTEN connection came back) reads every
row: the database wins for the names it holds, and bundles found only in the replica's folder are stored
for the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import structlog

from sidecar.store.postgres.pool import Database, bootstrap

log = structlog.get_logger("sidecar.store.postgres.bundles")

CHANNEL = "noodl_bundles"
BOOTSTRAP = (
    "CREATE TABLE IF NOT EXISTS noodl_bundles (name text PRIMARY KEY, export jsonb, hash text NOT NULL, "
    "deployed_by text NOT NULL, deployed_at timestamptz NOT NULL DEFAULT now())",
)


class PostgresBundles:
    """The ``BundleShare`` of ``sidecar.backends.workflows`` on the backend's PostgreSQL store."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self._pool: Database = store.pool
        self._workflows: Callable[[], Any] | None = None

    async def publish(self, name: str, export: Any, digest: str) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "INSERT INTO noodl_bundles (name, export, hash, deployed_by) VALUES ($1, $2::jsonb, $3, $4) "
                "ON CONFLICT (name) DO UPDATE SET export = excluded.export, hash = excluded.hash, "
                "deployed_by = excluded.deployed_by, deployed_at = now()",
                name,
                None if export is None else orjson.dumps(export).decode(),
                digest,
                self._store.replica_id,
            )
            await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, name)

    async def stored(self) -> dict[str, Any]:
        """Every bundle name the database holds, with its export (``None``: removed)."""
        rows = await self._pool.fetch("SELECT name, export FROM noodl_bundles")
        return {row["name"]: row["export"] for row in rows}

    async def attach(self, workflows_now: Callable[[], Any]) -> None:
        """Bring the replica's ``WorkflowSet`` (``workflows_now()``: a reload makes a new one) in line with
        the database, store its folder-only bundles, and keep it in line as other replicas deploy."""
        await bootstrap(self._pool, 727100023, BOOTSTRAP)
        self._workflows = workflows_now
        workflows = workflows_now()
        workflows.share = self
        stored = await self.stored()
        for name in workflows.names():
            if name not in stored:
                export = workflows.export_of(name)
                if export is not None:
                    await self.publish(name, export, workflows.hash_of(name) or "")
        await self._store.listen(CHANNEL, self._heard)
        self._apply(await self.stored())

    def _apply(self, stored: dict[str, Any]) -> None:
        assert self._workflows is not None
        workflows = self._workflows()
        for name, export in sorted(stored.items()):
            try:
                if workflows.install_shared(name, export):
                    log.info("shared_workflow_installed", workflow=name, removed=export is None)
            except Exception:  # one bad row must not keep the others from installing
                log.exception("shared_workflow_failed", workflow=name)

    async def _heard(self, name: str | None) -> None:
        if name is None:  # the LISTEN connection came back: deploys may have been missed
            self._apply(await self.stored())
            return
        export = await self._pool.fetchval("SELECT export FROM noodl_bundles WHERE name = $1", name)
        self._apply({name: export})
