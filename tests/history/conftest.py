"""Fixtures for the history tests: an opened history per test, and builders for stored rows.

``history`` and ``store`` are parametrised like the record store's fixtures (``tests.postgres``): every test
that takes one runs on ``executions.sqlite`` and on PostgreSQL (a schema of its own on the session's
throwaway server). A test of what only the SQLite file has says so with ``@pytest.mark.sqlite_only("why")``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from sidecar.events import EventBus
from sidecar.history import ExecutionHistory, HistoryConfig, SqliteHistoryStore
from sidecar.history.postgres_store import PostgresHistoryStore
from sidecar.history.retention import RetentionConfig
from sidecar.history.rows import ExecutionRow, StepRow, WriteBatch, step_id
from tests.postgres import database_url

BACKEND = "backend_test"
# Retention off by default so tests that seed old rows keep them; retention tests configure their own.
NO_RETENTION = HistoryConfig(retention=RetentionConfig(max_age_ms=None, interval_seconds=3600))


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def history_url(request: pytest.FixtureRequest, backend: str) -> str | None:
    """Where a test's history lives: None for ``executions.sqlite``, else a new PostgreSQL schema."""
    return database_url(request, backend)


@pytest.fixture
async def history(tmp_path: Path, bus: EventBus, history_url: str | None) -> AsyncIterator[ExecutionHistory]:
    opened = await ExecutionHistory.open(
        tmp_path,
        backend_id=BACKEND,
        backend_name="Test backend",
        bus=bus,
        config=NO_RETENTION,
        database_url=history_url,
    )
    yield opened
    await opened.close()


@pytest.fixture
async def store(tmp_path: Path, history_url: str | None) -> AsyncIterator[Any]:
    """A ``SqliteHistoryStore`` or a ``PostgresHistoryStore``."""
    opened: Any = (
        await SqliteHistoryStore.open(tmp_path / "executions.sqlite")
        if history_url is None
        else await PostgresHistoryStore.open(history_url)
    )
    yield opened
    await opened.close()


def execution(
    execution_id: str,
    *,
    workflow: str = "hello",
    status: str = "success",
    started_at: int = 1_000,
    duration_ms: int | None = 10,
    trigger_type: str = "webhook",
    error_message: str | None = None,
) -> ExecutionRow:
    finished = status != "running"
    return ExecutionRow(
        id=execution_id,
        workflow_id=workflow,
        workflow_name=workflow,
        trigger_type=trigger_type,
        status=status,
        started_at=started_at,
        completed_at=started_at + (duration_ms or 0) if finished else None,
        duration_ms=duration_ms if finished else None,
        error_message=error_message,
        metadata='{"backendId":"backend_test"}',
        trigger_data='{"headers":{},"bodySize":2,"body":{}}',
        last_seq=2 if finished else 1,
    )


def step(execution_id: str, index: int, node_id: str, *, status: str = "success") -> StepRow:
    return StepRow(
        id=step_id(execution_id, index),
        execution_id=execution_id,
        node_id=node_id,
        node_type="Condition",
        step_index=index,
        started_at=1_000 + index,
        completed_at=1_001 + index,
        duration_ms=1,
        status=status,
        input_data='{"condition":true}',
        output_data='{"ontrue":true}',
        start_seq=2 + 2 * index,
        seq=3 + 2 * index,
        input_size=18,
        output_size=15,
    )


async def seed(store: Any, *rows: ExecutionRow, steps: tuple[StepRow, ...] = ()) -> None:
    await store.write(WriteBatch(executions=list(rows), steps=list(steps)))


async def seed_history(
    history: ExecutionHistory, *rows: ExecutionRow, steps: tuple[StepRow, ...] = ()
) -> None:
    """Store rows through the history's own writer and wait until they are committed."""
    assert history.writer is not None
    for row in rows:
        history.writer.submit_execution(row)
    for step_row in steps:
        history.writer.submit_step(step_row)
    await history.writer.flush()


async def table_count(store: Any, table: str) -> int:
    """Rows in one of the history's tables, read beside the store (its file, or its PostgreSQL schema)."""
    if isinstance(store, SqliteHistoryStore):
        with closing(sqlite3.connect(store.path)) as db:
            return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    async with store.pool.acquire() as connection:
        return int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
