"""Write-side SQL for ``executions.sqlite``: batches, start-up recovery, deletes. Sync; one writer thread.

Every function here runs on the store's single write connection; each batch is one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from sidecar.history.rows import ExecutionRow, SearchText, StepRow, WriteBatch, now_ms
from sidecar.history.schema import transaction

_EXEC_COLUMNS = list(ExecutionRow._fields)
_STEP_COLUMNS = list(StepRow._fields)
_IMMUTABLE = {"id", "execution_id", "workflow_id", "workflow_name", "trigger_type", "started_at"}


def _upsert(table: str, columns: list[str], guard: str = "") -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in _IMMUTABLE)
    marks = ", ".join("?" for _ in columns)
    source = f"SELECT {marks} WHERE {guard}" if guard else f"VALUES ({marks})"
    return f"INSERT INTO {table} ({', '.join(columns)}) {source} ON CONFLICT(id) DO UPDATE SET {updates}"


_UPSERT_EXECUTION = _upsert("workflow_executions", _EXEC_COLUMNS)
_UPSERT_STEP = _upsert("execution_steps", _STEP_COLUMNS)
# Slow path after a foreign-key failure: steps of an execution deleted meanwhile (clear, retention)
# are dropped instead of failing the batch.
_UPSERT_STEP_GUARDED = _upsert(
    "execution_steps", _STEP_COLUMNS, "EXISTS (SELECT 1 FROM workflow_executions WHERE id = ?)"
)
_INSERT_SEARCH = (
    "INSERT INTO execution_search (rowid, body) SELECT rowid, ? FROM workflow_executions WHERE id = ?"
)


def _latest_by_id(rows: Iterable[Any]) -> list[Any]:
    latest: dict[str, Any] = {}
    for row in rows:
        latest[row.id] = row
    return list(latest.values())


def write_batch(connection: sqlite3.Connection, batch: WriteBatch) -> None:
    """One transaction: executions first (steps reference them), then steps, then search bodies."""
    executions = _latest_by_id(batch.executions)  # rows are tuples in column order
    steps = _latest_by_id(batch.steps)
    try:
        _write(connection, executions, steps, batch.search, guarded=False)
    except sqlite3.IntegrityError:
        _write(connection, executions, steps, batch.search, guarded=True)


def _write(
    connection: sqlite3.Connection,
    executions: list[Any],
    steps: list[Any],
    search: list[SearchText],
    *,
    guarded: bool,
) -> None:
    with transaction(connection):
        if executions:
            connection.executemany(_UPSERT_EXECUTION, executions)
        if steps and guarded:
            connection.executemany(_UPSERT_STEP_GUARDED, [(*values, values[1]) for values in steps])
        elif steps:
            connection.executemany(_UPSERT_STEP, steps)
        if search:
            connection.executemany(_INSERT_SEARCH, [(s.body, s.execution_id) for s in search])


def mark_interrupted(connection: sqlite3.Connection) -> int:
    """Rows left ``running`` by a crash become ``error`` with ``metadata.interrupted = true``."""
    at = now_ms()
    with transaction(connection):
        cursor = connection.execute(
            """UPDATE workflow_executions
               SET status = 'error', completed_at = ?, duration_ms = max(0, ? - started_at),
                   error_message = coalesce(error_message, 'Interrupted: the backend stopped during the run'),
                   metadata = json_set(coalesce(metadata, '{}'), '$.interrupted', json('true'))
               WHERE status = 'running'""",
            (at, at),
        )
        connection.execute(
            """UPDATE execution_steps
               SET status = 'error', completed_at = ?, error_message = coalesce(error_message, 'Interrupted')
               WHERE status = 'running'""",
            (at,),
        )
    return cursor.rowcount


def delete_executions(connection: sqlite3.Connection, ids: Sequence[str]) -> int:
    """Delete executions (steps follow by cascade) and their search bodies, in one transaction."""
    if not ids:
        return 0
    marks = ", ".join("?" for _ in ids)
    with transaction(connection):
        connection.execute(
            f"DELETE FROM execution_search WHERE rowid IN "
            f"(SELECT rowid FROM workflow_executions WHERE id IN ({marks}))",
            list(ids),
        )
        cursor = connection.execute(f"DELETE FROM workflow_executions WHERE id IN ({marks})", list(ids))
    return cursor.rowcount


def incremental_vacuum(connection: sqlite3.Connection, pages: int) -> None:
    connection.execute(f"PRAGMA incremental_vacuum({int(pages)})").fetchall()


def checkpoint(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
