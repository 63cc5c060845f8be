"""Write-side SQL for ``executions.sqlite``: batches, start-up recovery, deletes. Sync; one writer thread.

Every function here runs on the store's single write connection; each batch is one transaction.
"""

from __future__ import annotations

import functools
import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from sidecar.history.payload import EVENT_PREVIEW_CHARS, SEARCH_BODY_MAX_CHARS, finite, to_json
from sidecar.history.rows import ExecutionRow, SearchText, StepRow, WriteBatch, now_ms
from sidecar.history.schema import transaction

_EXEC_COLUMNS = list(ExecutionRow._fields)
_STEP_COLUMNS = list(StepRow._fields)
_INPUT, _OUTPUT = _STEP_COLUMNS.index("input_data"), _STEP_COLUMNS.index("output_data")
_INPUT_SIZE, _OUTPUT_SIZE = _STEP_COLUMNS.index("input_size"), _STEP_COLUMNS.index("output_size")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_IMMUTABLE = {"id", "execution_id", "workflow_id", "workflow_name", "trigger_type", "started_at"}
# Rows per INSERT: 256 rows of 18 columns stay far below SQLite's limit of 32,766 parameters.
_MAX_ROWS_PER_STATEMENT = 256


@functools.lru_cache(maxsize=32)
def _upsert(table: str, columns: tuple[str, ...], rows: int) -> str:
    """Upsert ``rows`` rows given as one flat parameter list, in one statement.

    One multi-row statement rather than ``executemany``: SQLite inserts the whole chunk in one call that
    runs without the GIL, where ``executemany`` takes the GIL back between rows and so waits on the event
    loop's thread for each one. (Rows as a JSON array read back with ``json_each`` avoid that too, but
    SQLite then parses the JSON again for every column it extracts: several times the cost.)
    """
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in _IMMUTABLE)
    row = "(" + ", ".join("?" for _ in columns) + ")"
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row] * rows)} "
        f"ON CONFLICT(id) DO UPDATE SET {updates}"
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
    return _storable_text(json.dumps(rows, ensure_ascii=False, separators=(",", ":")))


def _storable_text(text: str) -> str:
    """A lone surrogate (from an error message, a node name) has no UTF-8 form: SQLite would refuse the
    whole batch, so it becomes U+FFFD rather than losing every run in the batch."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text)
    return text


def _data_text(data: dict[str, Any]) -> tuple[str, int]:
    """Step data the recorder left for us to serialize (see ``rows.StepData``), with its size in bytes."""
    text = to_json(data)  # NaN and Infinity become null, as JSON.stringify writes them
    if text.isascii():
        return text, len(text)
    try:
        return text, len(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: stored as its JSON escape, as payload.encode does
        text = json.dumps(finite(data), separators=(",", ":"))
        return text, len(text)


def _step_values(row: StepRow) -> Sequence[Any]:
    if type(row.input_data) is not dict and type(row.output_data) is not dict:
        return row
    values: list[Any] = list(row)
    for data, size in ((_INPUT, _INPUT_SIZE), (_OUTPUT, _OUTPUT_SIZE)):
        if type(values[data]) is dict:
            values[data], values[size] = _data_text(values[data])
    return values


def _latest_by_id(rows: Iterable[Any]) -> list[Any]:
    latest: dict[str, Any] = {}
    for row in rows:
        latest[row.id] = row
    return list(latest.values())


def write_batch(connection: sqlite3.Connection, batch: WriteBatch) -> None:
    """One transaction: executions first (steps reference them), then steps, then search bodies."""
    executions = _latest_by_id(batch.executions)  # rows are tuples in column order
    steps = [_step_values(row) for row in _latest_by_id(batch.steps)]
    try:
        _write(connection, executions, steps, batch.search)
    except sqlite3.IntegrityError:
        # Steps of an execution deleted meanwhile (clear, retention) are dropped instead of failing the batch.
        _write(connection, executions, _with_execution(connection, steps), batch.search)


def _with_execution(connection: sqlite3.Connection, steps: list[Sequence[Any]]) -> list[Sequence[Any]]:
    ids = list({step[1] for step in steps})  # execution_id
    existing: set[str] = set()
    for start in range(0, len(ids), _MAX_ROWS_PER_STATEMENT):
        chunk = ids[start : start + _MAX_ROWS_PER_STATEMENT]
        marks = ", ".join("?" for _ in chunk)
        query = f"SELECT id FROM workflow_executions WHERE id IN ({marks})"
        existing.update(found for (found,) in connection.execute(query, chunk))
    return [step for step in steps if step[1] in existing]


def _write(
    connection: sqlite3.Connection,
    executions: list[Any],
    steps: list[Sequence[Any]],
    search: list[SearchText],
) -> None:
    with transaction(connection):
        _upsert_rows(connection, "workflow_executions", _EXEC_COLUMNS, executions)
        _upsert_rows(connection, "execution_steps", _STEP_COLUMNS, steps)
        if search:
            connection.execute(_INSERT_SEARCH, (_rows_json([(s.execution_id, s.body) for s in search]),))


def _upsert_rows(
    connection: sqlite3.Connection, table: str, columns: list[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Chunks of 2**k rows (largest first), so a table needs at most nine statement texts in the cache."""
    start = 0
    while start < len(rows):
        size = min(_MAX_ROWS_PER_STATEMENT, 1 << ((len(rows) - start).bit_length() - 1))
        params = [value for row in rows[start : start + size] for value in row]
        sql = _upsert(table, tuple(columns), size)
        try:
            connection.execute(sql, params)
        except UnicodeEncodeError:
            connection.execute(sql, [_storable_text(v) if type(v) is str else v for v in params])
        start += size


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
