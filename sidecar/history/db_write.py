"""Write-side SQL for ``executions.sqlite``: batches, start-up recovery, deletes. Sync; one writer thread.

Every function here runs on the store's single write connection; each batch is one transaction.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from sidecar.history.payload import EVENT_PREVIEW_CHARS, SEARCH_BODY_MAX_CHARS, finite
from sidecar.history.rows import ExecutionRow, SearchText, StepRow, WriteBatch, now_ms
from sidecar.history.schema import transaction

_EXEC_COLUMNS = list(ExecutionRow._fields)
_STEP_COLUMNS = list(StepRow._fields)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_IMMUTABLE = {"id", "execution_id", "workflow_id", "workflow_name", "trigger_type", "started_at"}


def _upsert(
    table: str, columns: list[str], guard: str = "true", computed: dict[str, str] | None = None
) -> str:
    """Upsert every row of a JSON array of rows (bound as one parameter) in one statement.

    One statement per table and batch, rather than ``executemany``: SQLite then inserts the whole batch in
    one call that runs without the GIL, where ``executemany`` takes the GIL back between rows and so
    waits on the event loop's thread for each one. ``computed`` replaces a column's value by an expression.
    """
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in _IMMUTABLE)
    values = ", ".join((computed or {}).get(column, f"value ->> {i}") for i, column in enumerate(columns))
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} FROM json_each(?) WHERE {guard} "
        f"ON CONFLICT(id) DO UPDATE SET {updates}"
    )


def _measured(size_column: str, data_column: str) -> str:
    """A size of -1 (data the writer serialized, see ``rows.StepData``) becomes the stored text's bytes."""
    size, data = _STEP_COLUMNS.index(size_column), _STEP_COLUMNS.index(data_column)
    measured = f"length(CAST(value ->> {data} AS BLOB))"
    return f"CASE WHEN value ->> {size} < 0 THEN {measured} ELSE value ->> {size} END"


_STEP_SIZES = {
    "input_size": _measured("input_size", "input_data"),
    "output_size": _measured("output_size", "output_data"),
}
_UPSERT_EXECUTION = _upsert("workflow_executions", _EXEC_COLUMNS)
_UPSERT_STEP = _upsert("execution_steps", _STEP_COLUMNS, computed=_STEP_SIZES)
# Slow path after a foreign-key failure: steps of an execution deleted meanwhile (clear, retention)
# are dropped instead of failing the batch.
_UPSERT_STEP_GUARDED = _upsert(
    "execution_steps",
    _STEP_COLUMNS,
    f"EXISTS (SELECT 1 FROM workflow_executions WHERE id = value ->> {_STEP_COLUMNS.index('execution_id')})",
    computed=_STEP_SIZES,
)
# The search body: the execution's error texts, then a preview of each step's stored output.
_INSERT_SEARCH = f"""
    INSERT INTO execution_search (rowid, body)
    SELECT e.rowid, substr(j.value ->> 1 || char(10) || coalesce((
        SELECT group_concat(
            CASE WHEN length(s.output_data) > {EVENT_PREVIEW_CHARS}
                 THEN substr(s.output_data, 1, {EVENT_PREVIEW_CHARS}) || '...' ELSE s.output_data END,
            char(10))
        FROM execution_steps AS s WHERE s.execution_id = e.id
    ), ''), 1, {SEARCH_BODY_MAX_CHARS})
    FROM json_each(?) AS j JOIN workflow_executions AS e ON e.id = j.value ->> 0"""


def _rows_json(rows: Sequence[Sequence[Any]]) -> str:
    try:
        text = json.dumps(rows, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # NaN or Infinity in step data left for us to serialize: null, as JSON.stringify
        text = json.dumps(finite(rows), ensure_ascii=False, separators=(",", ":"))
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate somewhere (an error message, a node name): UTF-8 cannot carry it and SQLite
        # would refuse the whole batch, so it becomes U+FFFD rather than losing every run in the batch.
        return _LONE_SURROGATE.sub("\ufffd", text)
    return text


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
            connection.execute(_UPSERT_EXECUTION, (_rows_json(executions),))
        if steps:
            connection.execute(_UPSERT_STEP_GUARDED if guarded else _UPSERT_STEP, (_rows_json(steps),))
        if search:
            connection.execute(_INSERT_SEARCH, (_rows_json([(s.execution_id, s.body) for s in search]),))


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
