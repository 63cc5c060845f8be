"""Fixtures for the history tests: an opened history per test, and builders for stored rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sidecar.events import EventBus
from sidecar.history import ExecutionHistory, HistoryConfig, SqliteHistoryStore
from sidecar.history.retention import RetentionConfig
from sidecar.history.rows import ExecutionRow, StepRow, WriteBatch, step_id

BACKEND = "backend_test"
# Retention off by default so tests that seed old rows keep them; retention tests configure their own.
NO_RETENTION = HistoryConfig(retention=RetentionConfig(max_age_ms=None, interval_seconds=3600))


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
async def history(tmp_path: Path, bus: EventBus) -> AsyncIterator[ExecutionHistory]:
    opened = await ExecutionHistory.open(
        tmp_path, backend_id=BACKEND, backend_name="Test backend", bus=bus, config=NO_RETENTION
    )
    yield opened
    await opened.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteHistoryStore]:
    opened = await SqliteHistoryStore.open(tmp_path / "executions.sqlite")
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


async def seed(store: SqliteHistoryStore, *rows: ExecutionRow, steps: tuple[StepRow, ...] = ()) -> None:
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
