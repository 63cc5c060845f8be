"""Write-side SQL for ``executions.sqlite``: batches, start-up recovery, deletes. Sync; one writer thread.

Every function here runs on the store's single write connection, except :func:`batch_document`, which
runs on the event loop's thread (see below). Each batch is one transaction.

A batch reaches SQLite as one JSON document bound to one statement: an insert into a staging table
whose trigger upserts the executions, steps and search bodies it carries (``json_each``) and then drops
the staged row (``RAISE(IGNORE)``). Why: the writer thread takes the GIL back from the event loop's
thread after each statement and for any Python it runs, and the loop's thread then waits for it in
turn; on a busy backend those waits cost runs more than the SQL did. Now the loop's thread encodes the
batch in one C-speed call, the writer thread holds the GIL only to bind that text, and the parsing and
inserting run without it. One statement is atomic by itself: no BEGIN/COMMIT either.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from sidecar.history.payload import EVENT_PREVIEW_CHARS, SEARCH_BODY_MAX_CHARS, finite, to_json
from sidecar.history.rows import ExecutionRow, StepRow, WriteBatch, now_ms
from sidecar.history.schema import transaction

_EXEC_COLUMNS = list(ExecutionRow._fields)
_STEP_COLUMNS = list(StepRow._fields)
_INPUT, _OUTPUT = _STEP_COLUMNS.index("input_data"), _STEP_COLUMNS.index("output_data")
_INPUT_SIZE, _OUTPUT_SIZE = _STEP_COLUMNS.index("input_size"), _STEP_COLUMNS.index("output_size")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_IMMUTABLE = {"id", "execution_id", "workflow_id", "workflow_name", "trigger_type", "started_at"}
_STAGING = "history_batch"


def _updates(columns: list[str]) -> str:
    return ", ".join(f"{c} = excluded.{c}" for c in columns if c not in _IMMUTABLE)


def _step_value(position: int) -> str:
    """A step column out of its document row. Step data is JSON text either way: stored text arrives as a
    JSON string and ``->>`` unquotes it; a dict the recorder left to us arrives as an object, and ``->>``
    gives its compact text, the very text ``to_json`` writes. Sizes the recorder left at -1 are measured."""
    value = f"value ->> {position}"
    size_of = {_INPUT_SIZE: _INPUT, _OUTPUT_SIZE: _OUTPUT}.get(position)
    if size_of is None:
        return value
    return f"CASE WHEN {value} < 0 THEN length(CAST(value ->> {size_of} AS BLOB)) ELSE {value} END"


# The document: [executions, steps, search], each a list of rows in column order; a search row is
# [execution id, error texts]. Executions come first (steps reference them); the search body then adds
# a preview of each stored step output. Steps of an execution deleted meanwhile (clear, retention) are
# dropped rather than failing the batch.
_WRITE_TRIGGER = f"""CREATE TEMP TRIGGER {_STAGING}_write BEFORE INSERT ON {_STAGING} BEGIN
    INSERT INTO workflow_executions ({", ".join(_EXEC_COLUMNS)})
    SELECT {", ".join(f"value ->> {i}" for i in range(len(_EXEC_COLUMNS)))}
    FROM json_each(NEW.document, '$[0]') WHERE true
    ON CONFLICT(id) DO UPDATE SET {_updates(_EXEC_COLUMNS)};

    INSERT INTO execution_steps ({", ".join(_STEP_COLUMNS)})
    SELECT {", ".join(_step_value(i) for i in range(len(_STEP_COLUMNS)))}
    FROM json_each(NEW.document, '$[1]')
    WHERE EXISTS (SELECT 1 FROM workflow_executions WHERE id = value ->> 1)
    ON CONFLICT(id) DO UPDATE SET {_updates(_STEP_COLUMNS)};

    INSERT INTO execution_search (rowid, body)
    SELECT e.rowid, substr(j.value ->> 1 || char(10) || coalesce((
        SELECT group_concat(
            CASE WHEN length(s.output_data) > {EVENT_PREVIEW_CHARS}
                 THEN substr(s.output_data, 1, {EVENT_PREVIEW_CHARS}) || '...' ELSE s.output_data END,
            char(10))
        FROM execution_steps AS s WHERE s.execution_id = e.id
    ), ''), 1, {SEARCH_BODY_MAX_CHARS})
    FROM json_each(NEW.document, '$[2]') AS j JOIN workflow_executions AS e ON e.id = j.value ->> 0;

    SELECT RAISE(IGNORE);
END"""


def prepare(connection: sqlite3.Connection) -> None:
    """Create the staging table and its trigger on the write connection (after migrations). Both are
    TEMP: they live as long as the connection and never reach the file."""
    connection.execute(f"CREATE TEMP TABLE {_STAGING} (document TEXT NOT NULL)")
    connection.execute(_WRITE_TRIGGER)


# Rows per document: a backlog (the disk stalled while runs went on) is written as several documents, each
# encoded in a few milliseconds, so the loop's thread is never held for long.
MAX_DOCUMENT_ROWS = 5_000


def split_batch(batch: WriteBatch) -> list[WriteBatch]:
    """``batch`` in parts of at most ``MAX_DOCUMENT_ROWS`` rows, to be written in order: executions, then
    steps, then search bodies, so each part finds the executions its rows refer to already written."""
    rows = MAX_DOCUMENT_ROWS
    if len(batch) <= rows:
        return [batch]
    parts: list[WriteBatch] = []
    for kind in ("executions", "steps", "search"):
        items: list[Any] = getattr(batch, kind)
        for start in range(0, len(items), rows):
            parts.append(WriteBatch(**{kind: items[start : start + rows]}))
    return parts


def batch_document(batch: WriteBatch) -> str:
    """The batch as the writer's JSON document; run on the event loop's thread (see the module notes).

    Rows are tuples in column order, step data dicts included: one ``to_json`` call (orjson, about four
    times faster than the json module, which held the loop ~10 µs per 5-node run) for the whole batch.
    Text a lone surrogate makes unstorable is ``write_document``'s fallback."""
    return to_json((latest_by_id(batch.executions), latest_by_id(batch.steps), batch.search))


def write_document(connection: sqlite3.Connection, document: str, batch: WriteBatch) -> None:
    """Commit one batch from its document (``batch`` itself is needed only for text SQLite can't store)."""
    try:
        connection.execute(f"INSERT INTO {_STAGING} (document) VALUES (?)", (document,))
    except UnicodeEncodeError:
        connection.execute(f"INSERT INTO {_STAGING} (document) VALUES (?)", (_storable_document(batch),))


def _storable_document(batch: WriteBatch) -> str:
    """The document when some text holds a lone surrogate (an error message, a node name, port data),
    which has no UTF-8 form: SQLite would refuse the whole batch. Text columns get U+FFFD instead; step
    data is stored as JSON with the surrogate escaped, as ``payload.encode`` stores it."""
    executions = [storable_row(row) for row in latest_by_id(batch.executions)]
    steps = [storable_row(step_values(row)) for row in latest_by_id(batch.steps)]
    search = [(storable_text(text.execution_id), storable_text(text.body)) for text in batch.search]
    return to_json((executions, steps, search))


def storable_row(row: Sequence[Any]) -> list[Any]:
    return [storable_text(value) if type(value) is str else value for value in row]


def storable_text(text: str) -> str:
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _LONE_SURROGATE.sub("\ufffd", text)
    return text


def _data_text(data: dict[str, Any]) -> tuple[str, int]:
    """Step data the recorder left for us to serialize, as text (escaped JSON if it has lone surrogates)."""
    text = to_json(data)  # NaN and Infinity become null, as JSON.stringify writes them
    try:
        return text, len(text.encode("utf-8"))
    except UnicodeEncodeError:
        text = json.dumps(finite(data), separators=(",", ":"))
        return text, len(text)


def step_values(row: StepRow) -> Sequence[Any]:
    values: list[Any] = list(row)
    for data, size in ((_INPUT, _INPUT_SIZE), (_OUTPUT, _OUTPUT_SIZE)):
        if type(values[data]) is dict:
            values[data], values[size] = _data_text(values[data])
    return values


def latest_by_id(rows: Iterable[Any]) -> list[Any]:
    latest: dict[str, Any] = {}
    for row in rows:
        latest[row.id] = row
    return list(latest.values())


_INSERT_EXECUTION = f"""INSERT INTO workflow_executions ({", ".join(_EXEC_COLUMNS)})
    VALUES ({", ".join("?" for _ in _EXEC_COLUMNS)})"""
_RECOVER_FINISHED = f"""{_INSERT_EXECUTION}
    ON CONFLICT(id) DO UPDATE SET {_updates(_EXEC_COLUMNS)} WHERE workflow_executions.status = 'running'"""
_RECOVER_STARTED = f"{_INSERT_EXECUTION} ON CONFLICT(id) DO NOTHING"


def recover_journaled(connection: sqlite3.Connection, rows: Sequence[ExecutionRow]) -> int:
    """At start-up, before :func:`mark_interrupted`: the journal's rows (see ``journal``) the file lacks
    are stored now, with ``metadata.recovered = true`` (their steps may be missing). A finished row
    replaces a ``running`` one and never a finished one; a ``running`` row is only added, and
    :func:`mark_interrupted` then fails it. Returns how many rows were restored. One transaction."""
    restored = 0
    with transaction(connection):
        for row in rows:
            values = storable_row(row._replace(metadata=recovered_metadata(row.metadata)))
            finished = row.status != "running"
            cursor = connection.execute(_RECOVER_FINISHED if finished else _RECOVER_STARTED, values)
            if cursor.rowcount <= 0:
                continue  # the file had it already
            restored += 1
            if not finished:
                continue
            connection.execute(
                "INSERT OR REPLACE INTO execution_search (rowid, body) "
                "SELECT rowid, ? FROM workflow_executions WHERE id = ?",
                (storable_text(row.error_message or ""), row.id),
            )
    return restored


def recovered_metadata(metadata: str | None) -> str:
    try:
        parsed = json.loads(metadata) if metadata else {}
    except ValueError:
        parsed = {}
    if not isinstance(parsed, dict):
        parsed = {}
    parsed["recovered"] = True
    return to_json(parsed)


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
