"""``migrate_to_postgres``: copy an embedded backend (its ``data/local.db`` and ``executions.sqlite``)
into a PostgreSQL database that ``serve --database-url`` then serves.

What goes: every class's schema (CLPs, indexes' fields, required columns), every record of every class —
users with their password hashes, sessions (their token digests: signed-in users stay signed in), roles
and their relations — every relation pair, and the execution history (executions, steps, search bodies).
Uploaded files' bytes stay in ``<backend>/files`` (records keep their names); the answer lists them.

Stages report ``progress(stage, done, total)``: ``schema``, ``records``, ``relations``, ``history``,
``verify``. The answer ends with a verification: per table, the rows in the source and in the target.

A target holding data is refused unless ``resume`` is given. Every copy keeps a row already in the
target (``ON CONFLICT DO NOTHING``), so a migration that stopped half-way is finished by running it
again with ``resume``; ``noodl_migrations`` says when one was interrupted, and the refusal says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from sidecar.backends.transfer import files_metadata
from sidecar.errors import MigrationRefusedError
from sidecar.history.postgres_store import redacted_url
from sidecar.migrate.source import HistorySource, RecordsSource, history_path, records_path
from sidecar.migrate.target import PostgresTarget

Progress = Callable[[str, int, int], None]
T = TypeVar("T")


async def _next(chunks: Iterator[T]) -> T | None:
    """The next chunk, read on a worker thread (SQLite reads block)."""
    return await asyncio.to_thread(next, chunks, None)


def _refusal(held: dict[str, int], marker: dict[str, Any] | None) -> MigrationRefusedError:
    what = f"{held['records']} records, {held['classes']} classes, {held['executions']} executions"
    if marker is not None and marker["finished"] is None:
        return MigrationRefusedError(
            f"a migration from this backend into the target was interrupted ({what} there already); "
            "run it again with resume to finish it",
            data={"target": held, "interrupted": True},
        )
    if marker is not None:
        return MigrationRefusedError(
            f"this backend was already migrated into the target at {marker['finished']}; "
            "resume copies what is new and keeps what is there",
            data={"target": held, "migratedAt": marker["finished"]},
        )
    return MigrationRefusedError(
        f"the target database is not empty ({what}); resume copies into it anyway, keeping its rows",
        data={"target": held},
    )


async def migrate_to_postgres(
    data_dir: Path, url: str, *, resume: bool = False, progress: Progress | None = None
) -> dict[str, Any]:
    """Copy the backend at ``data_dir`` into ``url``; the answer is described in the module notes."""
    report = progress or (lambda _stage, _done, _total: None)
    if not await asyncio.to_thread(records_path(data_dir).is_file):
        raise MigrationRefusedError(f"no embedded backend to migrate at {data_dir} (no data/local.db)")
    source_id = str(await asyncio.to_thread(data_dir.resolve))
    try:
        target = await PostgresTarget.open(url)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as error:
        raise MigrationRefusedError(f"cannot use {redacted_url(url)}: {error}") from error
    try:
        held = await target.contents()
        marker = await target.marker(source_id)
        if any(held.values()) and not resume:
            raise _refusal(held, marker)
        await target.prepare(source_id)
        records = await asyncio.to_thread(RecordsSource, records_path(data_dir))
        try:
            tables = await _copy_records(records, target, report)
        finally:
            await asyncio.to_thread(records.close)
        if await asyncio.to_thread(history_path(data_dir).is_file):
            history = await asyncio.to_thread(HistorySource, history_path(data_dir))
            try:
                tables += await _copy_history(history, target, report)
            finally:
                await asyncio.to_thread(history.close)
        fresh = not any(held.values())
        for table in tables:  # into an empty target every row is ours; else the target may hold more
            table["ok"] = table["target"] == table["source"] if fresh else table["target"] >= table["source"]
        verified = all(table["ok"] for table in tables)
        if verified:
            await target.finish(source_id)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise MigrationRefusedError(
            f"the migration into {redacted_url(url)} stopped: {error}; run it again with resume to finish it"
        ) from error
    finally:
        await target.close()
    files = await asyncio.to_thread(files_metadata, data_dir / "files")
    return {
        "target": redacted_url(url),
        "resumed": resume and not fresh,
        "verified": verified,
        "tables": tables,
        "files": {
            "count": len(files),
            "bytes": sum(int(entry["size"]) for entry in files),
            "location": str(data_dir / "files"),
            "entries": files,
        },
    }


async def _copy_records(
    source: RecordsSource, target: PostgresTarget, report: Progress
) -> list[dict[str, Any]]:
    schemas = [source.schemas[name] for name in sorted(source.schemas)]
    report("schema", 0, len(schemas))
    await target.put_schemas(schemas)
    report("schema", len(schemas), len(schemas))
    counts = {
        schema.class_name: await asyncio.to_thread(source.count, schema.class_name) for schema in schemas
    }
    total, done = sum(counts.values()), 0
    report("records", 0, total)
    for schema in schemas:
        chunks = source.records(schema)
        while (chunk := await _next(chunks)) is not None:
            await target.put_records(chunk)
            done += len(chunk)
            report("records", done, total)
    relations = [(schema, field) for schema in schemas for field in schema.relations()]
    pairs = {
        (schema.class_name, field): await asyncio.to_thread(source.relation_count, schema.class_name, field)
        for schema, field in relations
    }
    total, done = sum(pairs.values()), 0
    report("relations", 0, total)
    for schema, field in relations:
        relation_chunks = source.relations(schema, field)
        while (pair_chunk := await _next(relation_chunks)) is not None:
            await target.put_relations(schema.class_name, field, pair_chunk)
            done += len(pair_chunk)
            report("relations", done, total)
    report("verify", 0, 1)
    tables: list[dict[str, Any]] = [
        {"table": "_Schema", "source": len(schemas), "target": await target.count_classes(list(counts))}
    ]
    for name, count in counts.items():
        tables.append({"table": name, "source": count, "target": await target.count_records(name)})
    for (name, field), count in pairs.items():
        tables.append(
            {"table": f"{name}.{field}", "source": count, "target": await target.count_relations(name, field)}
        )
    return tables


async def _copy_history(
    source: HistorySource, target: PostgresTarget, report: Progress
) -> list[dict[str, Any]]:
    executions, steps = await asyncio.to_thread(source.counts)
    done = 0
    report("history", 0, executions)
    chunks = source.chunks()
    while (chunk := await _next(chunks)) is not None:
        await target.put_history(chunk)
        done += len(chunk.executions)
        report("history", done, executions)
    copied_executions, copied_steps = await target.count_history()
    report("verify", 1, 1)
    return [
        {"table": "workflow_executions", "source": executions, "target": copied_executions},
        {"table": "execution_steps", "source": steps, "target": copied_steps},
    ]
