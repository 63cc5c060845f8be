"""``<dataDir>/metrics.sqlite``: the hourly metric cells, merged in as batches arrive, deleted by age.

A file of its own rather than tables in ``executions.sqlite``: its retention (``retention_days``) is
independent of history's, clearing history leaves it alone, and its writes never queue behind history's.
All access runs in one worker thread at a time (``asyncio.to_thread`` under a lock); cells are upserted
by adding counts and histogram buckets, so any number of flushes of the same hour add up.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sidecar.monitoring.aggregate import NodeCell, NodeKey, Pending, RunCell, RunKey
from sidecar.monitoring.sketch import Histogram

FILE_NAME = "metrics.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS run_hours (
    hour INTEGER NOT NULL, workflow_id TEXT NOT NULL, trigger_type TEXT NOT NULL,
    runs INTEGER NOT NULL, successes INTEGER NOT NULL, errors INTEGER NOT NULL, timeouts INTEGER NOT NULL,
    total_ms INTEGER NOT NULL, histogram TEXT NOT NULL,
    PRIMARY KEY (hour, workflow_id, trigger_type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS node_hours (
    hour INTEGER NOT NULL, workflow_id TEXT NOT NULL, node_id TEXT NOT NULL, node_type TEXT NOT NULL,
    steps INTEGER NOT NULL, errors INTEGER NOT NULL, total_ms INTEGER NOT NULL, histogram TEXT NOT NULL,
    PRIMARY KEY (hour, workflow_id, node_id)
) WITHOUT ROWID;
-- One workflow's hours (the usual dashboard query) without walking every workflow's cells.
CREATE INDEX IF NOT EXISTS run_hours_by_workflow ON run_hours (workflow_id, hour);
CREATE INDEX IF NOT EXISTS node_hours_by_workflow ON node_hours (workflow_id, hour);
"""


class MetricsStore:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path | None) -> MetricsStore:
        """``None`` keeps the cells in memory (an ephemeral backend)."""

        def connect() -> sqlite3.Connection:
            connection = sqlite3.connect(":memory:" if path is None else path, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
            return connection

        return cls(await asyncio.to_thread(connect))

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._connection.close)

    async def merge(self, pending: Pending) -> None:
        if pending:
            async with self._lock:
                await asyncio.to_thread(self._merge, pending)

    async def delete_before(self, hour_ms: int) -> int:
        """Drop every cell of an hour starting before ``hour_ms``; the count of cells dropped."""
        async with self._lock:
            return await asyncio.to_thread(self._delete_before, hour_ms)

    async def run_cells(
        self, start: int, end: int, workflow_id: str | None, trigger_type: str | None
    ) -> list[tuple[RunKey, RunCell]]:
        """Cells with ``start <= hour < end``, optionally of one workflow and trigger type."""
        sql = "SELECT hour, workflow_id, trigger_type, runs, successes, errors, timeouts, total_ms, histogram"
        sql += " FROM run_hours WHERE hour >= ? AND hour < ?"
        args: list[object] = [start, end]
        if workflow_id is not None:
            sql += " AND workflow_id = ?"
            args.append(workflow_id)
        if trigger_type is not None:
            sql += " AND trigger_type = ?"
            args.append(trigger_type)
        rows = await self._read(sql, args)
        return [
            ((r[0], r[1], r[2]), RunCell(r[3], r[4], r[5], r[6], r[7], Histogram.from_text(r[8])))
            for r in rows
        ]

    async def node_cells(
        self, start: int, end: int, workflow_id: str | None
    ) -> list[tuple[NodeKey, NodeCell]]:
        sql = "SELECT hour, workflow_id, node_id, node_type, steps, errors, total_ms, histogram"
        sql += " FROM node_hours WHERE hour >= ? AND hour < ?"
        args: list[object] = [start, end]
        if workflow_id is not None:
            sql += " AND workflow_id = ?"
            args.append(workflow_id)
        rows = await self._read(sql, args)
        return [
            ((r[0], r[1], r[2]), NodeCell(r[3], r[4], r[5], r[6], Histogram.from_text(r[7]))) for r in rows
        ]

    # ---- worker thread -------------------------------------------------------------------------------
    async def _read(self, sql: str, args: Iterable[object]) -> list[Any]:
        async with self._lock:
            return await asyncio.to_thread(lambda: self._connection.execute(sql, list(args)).fetchall())

    def _merge(self, pending: Pending) -> None:
        connection = self._connection
        with connection:
            for (hour, workflow, trigger), cell in pending.runs.items():
                found = connection.execute(
                    "SELECT runs, successes, errors, timeouts, total_ms, histogram FROM run_hours"
                    " WHERE hour = ? AND workflow_id = ? AND trigger_type = ?",
                    (hour, workflow, trigger),
                ).fetchone()
                if found is not None:
                    cell.merge(
                        RunCell(
                            found[0], found[1], found[2], found[3], found[4], Histogram.from_text(found[5])
                        )
                    )
                connection.execute(
                    "INSERT OR REPLACE INTO run_hours VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    "SELECT node_type, steps, errors, total_ms, histogram FROM node_hours"
                    " WHERE hour = ? AND workflow_id = ? AND node_id = ?",
                    (hour, workflow, node),
                ).fetchone()
                if found is not None:
                    old = NodeCell(found[0], found[1], found[2], found[3], Histogram.from_text(found[4]))
                    old.merge(step)
                    step = old
                connection.execute(
                    "INSERT OR REPLACE INTO node_hours VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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

    def _delete_before(self, hour_ms: int) -> int:
        connection = self._connection
        with connection:
            runs = connection.execute("DELETE FROM run_hours WHERE hour < ?", (hour_ms,)).rowcount
            nodes = connection.execute("DELETE FROM node_hours WHERE hour < ?", (hour_ms,)).rowcount
        return int(runs) + int(nodes)
