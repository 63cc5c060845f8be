"""Read-side SQL for ``executions.sqlite``: list pages, one execution with steps, stats, replay rows.

Sync functions over a read connection (WAL lets it read while the writer commits).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sidecar.history.query import ExecutionQuery, compile_filters, compile_list, encode_cursor
from sidecar.history.rows import ExecutionRow, StepRow

_EXEC_COLUMNS = list(ExecutionRow._fields)
_STEP_COLUMNS = list(StepRow._fields)
EXEC_SELECT = ", ".join(f"e.{c}" for c in _EXEC_COLUMNS)
STEP_SELECT = ", ".join(_STEP_COLUMNS)
REPLAY_MAX_EXECUTIONS = 1000
PERCENTILES = (("p50DurationMs", 0.50), ("p95DurationMs", 0.95), ("p99DurationMs", 0.99))


@dataclass(frozen=True)
class ExecutionPage:
    rows: list[ExecutionRow]
    next_cursor: str | None
    """Pass as ``cursor`` for the following page; None on the last page."""


def list_page(connection: sqlite3.Connection, query: ExecutionQuery) -> ExecutionPage:
    sql, params = compile_list(query, EXEC_SELECT)
    found = connection.execute(sql, params).fetchall()
    width = len(_EXEC_COLUMNS)
    rows = [ExecutionRow(*record[:width]) for record in found]
    next_cursor = None
    if found and len(found) == query.limit:
        last = found[-1]
        next_cursor = encode_cursor(last[width + 1], last[width])
    return ExecutionPage(rows, next_cursor)


def get_execution(connection: sqlite3.Connection, execution_id: str) -> ExecutionRow | None:
    record = connection.execute(
        f"SELECT {EXEC_SELECT} FROM workflow_executions e WHERE e.id = ?", (execution_id,)
    ).fetchone()
    return None if record is None else ExecutionRow(*record)


def get_steps(connection: sqlite3.Connection, execution_id: str) -> list[StepRow]:
    records = connection.execute(
        f"SELECT {STEP_SELECT} FROM execution_steps WHERE execution_id = ? ORDER BY step_index",
        (execution_id,),
    ).fetchall()
    return [StepRow(*record) for record in records]


# ---- the canvas overlay (sidecar.debugging.pin) -----------------------------------------------------
# The overlay shows one run's ports per node; the other runs need only their identity, status and
# timing, except the runs of For Each / Retry / Try/Catch, whose payloads name their child runs. Most
# of a read's cost is the Python objects made per column, so the light rows carry only what the
# overlay reads, and payloads only for those owners.
OWNERS_SQL = "('Workflow For Each', 'Workflow Retry', 'Workflow Try Catch')"
WHOLE_INPUT_BYTES = 2048
_LIGHT_SELECT = (
    "id, node_id, node_type, step_index, status, node_name, duration_ms,"
    # An owner's input is read whole when small; a large one (a For Each item of 100 kB) only for the
    # keys that name the child, extracted by SQLite, so the overlay never decodes every item.
    f" CASE WHEN node_type IN {OWNERS_SQL} THEN CASE WHEN input_size BETWEEN 0 AND {WHOLE_INPUT_BYTES}"
    " THEN input_data WHEN json_valid(input_data) THEN json_object("
    "'currentIndex', json_extract(input_data, '$.currentIndex'),"
    " 'attemptNumber', json_extract(input_data, '$.attemptNumber'),"
    " 'ok', json_extract(input_data, '$.ok')) END END,"
    # An owner's outputs matter only when they name a failed child (``errors``, ``error``): most do not.
    f" CASE WHEN node_type IN {OWNERS_SQL} AND instr(output_data, '\"error') > 0 THEN output_data END,"
    " error_message, run_index"
)


def light_steps(connection: sqlite3.Connection, execution_id: str) -> list[StepRow]:
    """An execution's steps by ``step_index`` with the fields the canvas overlay reads: no timestamps,
    sequence numbers or sizes; payloads only for For Each, Retry and Try/Catch runs (their outputs
    only where they mention an error)."""
    records = connection.execute(
        f"SELECT {_LIGHT_SELECT} FROM execution_steps WHERE execution_id = ? ORDER BY step_index",
        (execution_id,),
    ).fetchall()
    return light_step_rows(execution_id, records)


def light_step_rows(execution_id: str, records: Sequence[Sequence[Any]]) -> list[StepRow]:
    """Rows of ``_LIGHT_SELECT`` (SQLite or PostgreSQL) as step rows, the fields it leaves out zero."""
    make = StepRow._make
    return [
        make(
            (
                r[0],
                execution_id,
                r[1],
                r[2],
                r[3],
                0,
                r[4],
                r[5],
                None,
                r[6],
                r[7],
                r[8],
                r[9],
                r[10],
                0,
                0,
                0,
                0,
            )
        )
        for r in records
    ]


def step_payloads(connection: sqlite3.Connection, step_ids: list[str]) -> dict[str, tuple[Any, Any]]:
    """``{step id: (input_data, output_data)}`` of the given steps (at most 500 ids a query)."""
    found: dict[str, tuple[Any, Any]] = {}
    for start in range(0, len(step_ids), 500):
        chunk = step_ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        for step_id, input_data, output_data in connection.execute(
            f"SELECT id, input_data, output_data FROM execution_steps WHERE id IN ({marks})", chunk
        ):
            found[step_id] = (input_data, output_data)
    return found


def get_step(connection: sqlite3.Connection, step_id: str) -> StepRow | None:
    record = connection.execute(
        f"SELECT {STEP_SELECT} FROM execution_steps WHERE id = ?", (step_id,)
    ).fetchone()
    return None if record is None else StepRow(*record)


def matching_ids(connection: sqlite3.Connection, query: ExecutionQuery, limit: int) -> list[str]:
    """Ids of finished executions matching the query's filters (for clear-by-filter), oldest first."""
    terms, params = compile_filters(query)
    terms.append("e.status != 'running'")
    sql = f"SELECT e.id FROM workflow_executions e WHERE {' AND '.join(terms)} ORDER BY e.started_at LIMIT ?"
    return [row[0] for row in connection.execute(sql, [*params, limit])]


def stats(connection: sqlite3.Connection, workflow_id: str | None) -> dict[str, Any]:
    """Counts, success rate (percent of all runs) and duration figures over finished runs."""
    where, params = ("WHERE workflow_id = ?", [workflow_id]) if workflow_id is not None else ("", [])
    total, success, error, running, average, low, high = connection.execute(
        f"""SELECT count(*), coalesce(sum(status = 'success'), 0), coalesce(sum(status = 'error'), 0),
                   coalesce(sum(status = 'running'), 0), avg(duration_ms), min(duration_ms), max(duration_ms)
            FROM workflow_executions {where}""",
        params,
    ).fetchone()
    figures: dict[str, Any] = {
        "totalExecutions": total,
        "successCount": success,
        "errorCount": error,
        "runningCount": running,
        "avgDurationMs": round(average, 3) if average is not None else 0,
        "minDurationMs": low or 0,
        "maxDurationMs": high or 0,
        "successRate": round(100.0 * success / total, 2) if total else 0,
    }
    figures.update(_duration_percentiles(connection, where, params))
    if workflow_id is not None:
        figures["workflowId"] = workflow_id
    return figures


def _duration_percentiles(connection: sqlite3.Connection, where: str, params: list[Any]) -> dict[str, int]:
    clause = f"{where} AND duration_ms IS NOT NULL" if where else "WHERE duration_ms IS NOT NULL"
    durations = [
        row[0]
        for row in connection.execute(
            f"SELECT duration_ms FROM workflow_executions {clause} ORDER BY duration_ms", params
        )
    ]
    if not durations:
        return {name: 0 for name, _ in PERCENTILES}
    # Nearest-rank percentile: the smallest duration with at least p of the runs at or below it.
    return {name: durations[max(0, math.ceil(p * len(durations)) - 1)] for name, p in PERCENTILES}


def replay_rows(
    connection: sqlite3.Connection, execution_id: str, workflow_id: str | None
) -> list[tuple[ExecutionRow, list[StepRow]]]:
    """The execution named by a Last-Event-ID, then every execution started at or after it or still
    running, oldest first; empty when the named execution is gone."""
    anchor = get_execution(connection, execution_id)
    if anchor is None:
        return []
    terms = ["(e.started_at >= ? OR e.status = 'running')", "e.id != ?"]
    params: list[Any] = [anchor.started_at, execution_id]
    if workflow_id is not None:
        terms.append("e.workflow_id = ?")
        params.append(workflow_id)
    records = connection.execute(
        f"SELECT {EXEC_SELECT} FROM workflow_executions e WHERE {' AND '.join(terms)} "
        "ORDER BY e.started_at, e.rowid LIMIT ?",
        [*params, REPLAY_MAX_EXECUTIONS],
    ).fetchall()
    executions = [anchor, *(ExecutionRow(*record) for record in records)]
    return [(row, get_steps(connection, row.id)) for row in executions]
