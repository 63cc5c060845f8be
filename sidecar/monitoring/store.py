"""``<dataDir>/metrics.sqlite``: the hourly metric cells, merged in as batches arrive, deleted by age.

A file of its own rather than tables in ``executions.sqlite``: its retention (``retention_days``) is
independent of history's, clearing history leaves it alone, and its writes never queue behind history's.
The connection belongs to one thread of its own: every job (open, merges, reads, retention, close)
runs there in the order it was asked for. A job whose caller was cancelled meanwhile (the backend
stopping cancels its flush task mid-merge) still runs to its end before the next one starts, so the
connection is never used by two threads at once nor closed under a running statement (which Python's
sqlite3 answers with a segmentation fault). Cells are upserted by adding counts and histogram buckets,
so any number of flushes of the same hour add up.

Each merge also adds the cells into per-day roll-ups (``run_days``, ``node_days``; UTC days), so a query
by day or over the whole range reads one row per day for the days it covers whole and hourly rows only
for the partial days at its ends: 30 days of one workflow are ~30 rows instead of 720. A file written
before the roll-ups existed gets them built from its hours when opened (``PRAGMA user_version`` 2).
Retention drops the hours before its cutoff and the days that end before it; the one day that straddles
the cutoff keeps its roll-up until it too is past, so a day query reaching back to the retention edge may
count a few hours more than an hour query does.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sidecar.monitoring.aggregate import HOUR_MS, NodeCell, NodeKey, Pending, RunCell, RunKey
from sidecar.monitoring.sketch import Histogram

FILE_NAME = "metrics.sqlite"
T = TypeVar("T")


def _cell_tables(span: str) -> str:
    """The run and node cells of one span (``hours``, or the per-day roll-ups ``days``): one shape, and an
    index per workflow, so one workflow's cells (the usual dashboard query) are read without walking
    every workflow's."""
    return f"""
CREATE TABLE IF NOT EXISTS run_{span} (
    hour INTEGER NOT NULL, workflow_id TEXT NOT NULL, trigger_type TEXT NOT NULL,
    runs INTEGER NOT NULL, successes INTEGER NOT NULL, errors INTEGER NOT NULL, timeouts INTEGER NOT NULL,
    total_ms INTEGER NOT NULL, histogram TEXT NOT NULL,
    PRIMARY KEY (hour, workflow_id, trigger_type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS node_{span} (
    hour INTEGER NOT NULL, workflow_id TEXT NOT NULL, node_id TEXT NOT NULL, node_type TEXT NOT NULL,
    steps INTEGER NOT NULL, errors INTEGER NOT NULL, total_ms INTEGER NOT NULL, histogram TEXT NOT NULL,
    PRIMARY KEY (hour, workflow_id, node_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS run_{span}_by_workflow ON run_{span} (workflow_id, hour);
CREATE INDEX IF NOT EXISTS node_{span}_by_workflow ON node_{span} (workflow_id, hour);
"""


_SCHEMA = _cell_tables("hours")
_DAY_SCHEMA = _cell_tables("days")
_VERSION = 2
DAY_MS = 24 * HOUR_MS
_RUN_COLUMNS = "hour, workflow_id, trigger_type, runs, successes, errors, timeouts, total_ms, histogram"
_NODE_COLUMNS = "hour, workflow_id, node_id, node_type, steps, errors, total_ms, histogram"


def _day(hour: int) -> int:
    return hour - hour % DAY_MS


def _by_day(pending: Pending) -> Pending:
    """The same cells added up per day (keys keep their shape: the day's start in the hour slot)."""
    days = Pending()
    for (hour, workflow, trigger), cell in pending.runs.items():
        key = (_day(hour), workflow, trigger)
        into = days.runs.get(key)
        if into is None:
            into = days.runs[key] = RunCell()
        into.merge(cell)
    for (hour, workflow, node), step in pending.nodes.items():
        key = (_day(hour), workflow, node)
        found = days.nodes.get(key)
        if found is None:
            found = days.nodes[key] = NodeCell(step.node_type)
        found.merge(step)
    return days


def _spans(start: int, end: int, days: bool) -> list[tuple[str, int, int]]:
    """``(table kind, from, to)`` pieces covering [start, end): whole days from the day tables when
    ``days``, the rest from the hour tables."""
    if not days:
        return [("hours", start, end)]
    first_day = start if start % DAY_MS == 0 else _day(start) + DAY_MS
    last_day = _day(end)
    if first_day >= last_day:
        return [("hours", start, end)]
    spans = [("days", first_day, last_day)]
    if start < first_day:
        spans.append(("hours", start, first_day))
    if last_day < end:
        spans.append(("hours", last_day, end))
    return spans


class MetricsStore:
    def __init__(self, connection: sqlite3.Connection, thread: ThreadPoolExecutor) -> None:
        self._connection = connection
        self._thread = thread  # the connection's own thread (see the module notes)

    @classmethod
    async def open(cls, path: Path | None) -> MetricsStore:
        """``None`` keeps the cells in memory (an ephemeral backend)."""
        thread = ThreadPoolExecutor(1, thread_name_prefix="metrics-store")

        def connect() -> sqlite3.Connection:
            connection = sqlite3.connect(":memory:" if path is None else path, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
            if connection.execute("PRAGMA user_version").fetchone()[0] < _VERSION:
                connection.executescript(_DAY_SCHEMA)
                _backfill_days(connection)
                connection.execute(f"PRAGMA user_version = {_VERSION}")
            return connection

        try:
            return cls(await asyncio.get_running_loop().run_in_executor(thread, connect), thread)
        except BaseException:
            thread.shutdown(wait=False)
            raise

    async def close(self) -> None:
        """Close the connection after the jobs asked for before (also those whose callers gave up)."""
        try:
            await self._on_thread(self._connection.close)
        finally:
            self._thread.shutdown(wait=False)

    async def merge(self, pending: Pending) -> None:
        if pending:
            await self._on_thread(lambda: self._merge(pending))

    async def delete_before(self, hour_ms: int) -> int:
        """Drop every cell of an hour starting before ``hour_ms``; the count of cells dropped."""
        return await self._on_thread(lambda: self._delete_before(hour_ms))

    async def run_cells(
        self, start: int, end: int, workflow_id: str | None, trigger_type: str | None, *, days: bool = False
    ) -> list[tuple[RunKey, RunCell]]:
        """Cells with ``start <= hour < end``, optionally of one workflow and trigger type; with ``days``,
        whole days come as one cell each (keyed by the day's start)."""
        rows: list[Any] = []
        for kind, low, high in _spans(start, end, days):
            sql = f"SELECT {_RUN_COLUMNS} FROM run_{kind} WHERE hour >= ? AND hour < ?"
            args: list[object] = [low, high]
            if workflow_id is not None:
                sql += " AND workflow_id = ?"
                args.append(workflow_id)
            if trigger_type is not None:
                sql += " AND trigger_type = ?"
                args.append(trigger_type)
            rows.extend(await self._read(sql, args))
        return [
            ((r[0], r[1], r[2]), RunCell(r[3], r[4], r[5], r[6], r[7], Histogram.from_text(r[8])))
            for r in rows
        ]

    async def node_cells(
        self, start: int, end: int, workflow_id: str | None, *, days: bool = False
    ) -> list[tuple[NodeKey, NodeCell]]:
        rows: list[Any] = []
        for kind, low, high in _spans(start, end, days):
            sql = f"SELECT {_NODE_COLUMNS} FROM node_{kind} WHERE hour >= ? AND hour < ?"
            args: list[object] = [low, high]
            if workflow_id is not None:
                sql += " AND workflow_id = ?"
                args.append(workflow_id)
            rows.extend(await self._read(sql, args))
        return [
            ((r[0], r[1], r[2]), NodeCell(r[3], r[4], r[5], r[6], Histogram.from_text(r[7]))) for r in rows
        ]

    # ---- the connection's thread ---------------------------------------------------------------------
    async def _on_thread(self, job: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, job)

    async def _read(self, sql: str, args: Iterable[object]) -> list[Any]:
        return await self._on_thread(lambda: self._connection.execute(sql, list(args)).fetchall())

    def _merge(self, pending: Pending) -> None:
        connection = self._connection
        with connection:
            _upsert(connection, pending, "hours")
            _upsert(connection, _by_day(pending), "days")

    def _delete_before(self, hour_ms: int) -> int:
        connection = self._connection
        with connection:
            runs = connection.execute("DELETE FROM run_hours WHERE hour < ?", (hour_ms,)).rowcount
            nodes = connection.execute("DELETE FROM node_hours WHERE hour < ?", (hour_ms,)).rowcount
            # Days that end before the cutoff; the day that straddles it goes once it is past too.
            connection.execute("DELETE FROM run_days WHERE hour + ? <= ?", (DAY_MS, hour_ms))
            connection.execute("DELETE FROM node_days WHERE hour + ? <= ?", (DAY_MS, hour_ms))
        return int(runs) + int(nodes)


def _upsert(connection: sqlite3.Connection, pending: Pending, kind: str) -> None:
    """Add ``pending``'s cells into the ``run_<kind>`` and ``node_<kind>`` rows of the same keys."""
    for (hour, workflow, trigger), cell in pending.runs.items():
        found = connection.execute(
            f"SELECT runs, successes, errors, timeouts, total_ms, histogram FROM run_{kind}"
            " WHERE hour = ? AND workflow_id = ? AND trigger_type = ?",
            (hour, workflow, trigger),
        ).fetchone()
        if found is not None:
            cell = RunCell(found[0], found[1], found[2], found[3], found[4], Histogram.from_text(found[5]))
            cell.merge(pending.runs[(hour, workflow, trigger)])
        connection.execute(
            f"INSERT OR REPLACE INTO run_{kind} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                hour,
                workflow,
                trigger,
                cell.runs,
                cell.successes,
                cell.errors,
                cell.timeouts,
                cell.total_ms,
                cell.histogram.to_text(),
            ),
        )
    for (hour, workflow, node), step in pending.nodes.items():
        found = connection.execute(
            f"SELECT node_type, steps, errors, total_ms, histogram FROM node_{kind}"
            " WHERE hour = ? AND workflow_id = ? AND node_id = ?",
            (hour, workflow, node),
        ).fetchone()
        if found is not None:
            old = NodeCell(found[0], found[1], found[2], found[3], Histogram.from_text(found[4]))
            old.merge(step)
            step = old
        connection.execute(
            f"INSERT OR REPLACE INTO node_{kind} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                hour,
                workflow,
                node,
                step.node_type,
                step.steps,
                step.errors,
                step.total_ms,
                step.histogram.to_text(),
            ),
        )


def _backfill_days(connection: sqlite3.Connection) -> None:
    """Build the day roll-ups of a file written before they existed, from its hours."""
    pending = Pending()
    for r in connection.execute(f"SELECT {_RUN_COLUMNS} FROM run_hours"):
        pending.runs[(r[0], r[1], r[2])] = RunCell(r[3], r[4], r[5], r[6], r[7], Histogram.from_text(r[8]))
    for r in connection.execute(f"SELECT {_NODE_COLUMNS} FROM node_hours"):
        pending.nodes[(r[0], r[1], r[2])] = NodeCell(r[3], r[4], r[5], r[6], Histogram.from_text(r[7]))
    with connection:
        connection.execute("DELETE FROM run_days")
        connection.execute("DELETE FROM node_days")
        _upsert(connection, _by_day(pending), "days")
