"""The PostgreSQL side of the migration: what the target already holds, its tables made by the stores
themselves, idempotent copies (a row already there is kept: ``ON CONFLICT DO NOTHING``), and counts.

``noodl_migrations`` remembers each migration by its source (the backend directory): started, and
finished once verified, so an interrupted one is recognised and resumed rather than refused blindly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from sidecar.history.postgres_store import PostgresHistoryStore, pg_text
from sidecar.history.rows import WriteBatch
from sidecar.migrate.source import HistoryChunk, RecordRow
from sidecar.store.catalog import PRECREATED
from sidecar.store.postgres.store import PostgresRecordStore
from sidecar.store.schema import ClassSchema

_MARKERS = (
    "CREATE TABLE IF NOT EXISTS noodl_migrations (source text PRIMARY KEY, "
    "started_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz)"
)
_INSERT_RECORD = (
    "INSERT INTO noodl_records (class_name, object_id, created_at, updated_at, doc, rperm, wperm, secret) "
    "VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7, $8) ON CONFLICT DO NOTHING"
)
_INSERT_RELATION = (
    "INSERT INTO noodl_relations (class_name, field, owning_id, related_id) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT DO NOTHING"
)
_INSERT_SEARCH = """INSERT INTO execution_search (seqno, body)
    SELECT e.seqno, j.body FROM unnest($1::text[], $2::text[]) AS j(id, body)
    JOIN workflow_executions AS e ON e.id = j.id
    ON CONFLICT (seqno) DO NOTHING"""


class PostgresTarget:
    def __init__(self, url: str, pool: asyncpg.Pool) -> None:
        self.url = url
        self._pool = pool
        self._history: PostgresHistoryStore | None = None

    @classmethod
    async def open(cls, url: str) -> PostgresTarget:
        return cls(url, await asyncpg.create_pool(url, min_size=1, max_size=2))

    async def _exists(self, table: str) -> bool:
        return bool(await self._pool.fetchval("SELECT to_regclass($1) IS NOT NULL", table))

    async def contents(self) -> dict[str, int]:
        """What the target holds already: records, classes beyond the built-in ones, executions."""
        held = {"records": 0, "classes": 0, "executions": 0}
        if await self._exists("noodl_records"):
            held["records"] = int(await self._pool.fetchval("SELECT count(*) FROM noodl_records"))
        if await self._exists("noodl_schema"):
            held["classes"] = int(
                await self._pool.fetchval(
                    "SELECT count(*) FROM noodl_schema WHERE NOT class_name = ANY($1)", list(PRECREATED)
                )
            )
        if await self._exists("workflow_executions"):
            held["executions"] = int(await self._pool.fetchval("SELECT count(*) FROM workflow_executions"))
        return held

    async def marker(self, source: str) -> dict[str, Any] | None:
        """``{started, finished}`` of an earlier migration from ``source`` (finished None: interrupted)."""
        if not await self._exists("noodl_migrations"):
            return None
        row = await self._pool.fetchrow(
            "SELECT started_at, finished_at FROM noodl_migrations WHERE source = $1", source
        )
        if row is None:
            return None
        finished = row["finished_at"]
        return {"started": row["started_at"].isoformat(), "finished": finished and finished.isoformat()}

    async def prepare(self, source: str) -> None:
        """Make the stores' tables (the stores' own bootstraps) and mark the migration started."""
        records = await PostgresRecordStore.open(self.url)
        await records.close()
        self._history = await PostgresHistoryStore.open(self.url)
        await self._pool.execute(_MARKERS)
        await self._pool.execute(
            "INSERT INTO noodl_migrations (source) VALUES ($1) "
            "ON CONFLICT (source) DO UPDATE SET started_at = now(), finished_at = NULL",
            source,
        )

    async def finish(self, source: str) -> None:
        await self._pool.execute("UPDATE noodl_migrations SET finished_at = now() WHERE source = $1", source)

    async def put_schemas(self, schemas: Sequence[ClassSchema]) -> None:
        """The source's schemas replace the target's of the same classes (the built-in ones included)."""
        await self._pool.executemany(
            "INSERT INTO noodl_schema (class_name, schema) VALUES ($1, $2::text::jsonb) "
            "ON CONFLICT (class_name) DO UPDATE SET schema = excluded.schema",
            [(schema.class_name, json.dumps(schema.to_wire())) for schema in schemas],
        )

    async def put_records(self, rows: Sequence[RecordRow]) -> None:
        await self._pool.executemany(
            _INSERT_RECORD,
            [
                (
                    r.class_name,
                    r.object_id,
                    r.created_at,
                    r.updated_at,
                    json.dumps(r.doc),
                    r.rperm,
                    r.wperm,
                    r.secret,
                )
                for r in rows
            ],
        )

    async def put_relations(self, class_name: str, field: str, pairs: Sequence[tuple[str, str]]) -> None:
        await self._pool.executemany(
            _INSERT_RELATION, [(class_name, field, owning, related) for owning, related in pairs]
        )

    async def put_history(self, chunk: HistoryChunk) -> None:
        """Executions and steps through the history store's own batch write; the search bodies as the
        source made them (the store's write would add the step previews to them a second time)."""
        assert self._history is not None
        await self._history.write(WriteBatch(executions=chunk.executions, steps=chunk.steps))
        if chunk.search:
            await self._pool.execute(
                _INSERT_SEARCH,
                [text.execution_id for text in chunk.search],
                [pg_text(text.body) for text in chunk.search],
            )

    async def count_records(self, class_name: str) -> int:
        return int(
            await self._pool.fetchval("SELECT count(*) FROM noodl_records WHERE class_name = $1", class_name)
        )

    async def count_relations(self, class_name: str, field: str) -> int:
        return int(
            await self._pool.fetchval(
                "SELECT count(*) FROM noodl_relations WHERE class_name = $1 AND field = $2", class_name, field
            )
        )

    async def count_classes(self, names: Sequence[str]) -> int:
        return int(
            await self._pool.fetchval(
                "SELECT count(*) FROM noodl_schema WHERE class_name = ANY($1)", list(names)
            )
        )

    async def count_history(self) -> tuple[int, int]:
        executions = await self._pool.fetchval("SELECT count(*) FROM workflow_executions")
        steps = await self._pool.fetchval("SELECT count(*) FROM execution_steps")
        return int(executions), int(steps)

    async def close(self) -> None:
        if self._history is not None:
            await self._history.close()
        await self._pool.close()
