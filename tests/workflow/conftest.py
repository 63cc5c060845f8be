"""Fixtures for the workflow-node tests: a real execution history per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sidecar.events import EventBus
from sidecar.history import ExecutionHistory, HistoryConfig
from sidecar.history.retention import RetentionConfig


@pytest.fixture
async def history(tmp_path: Path) -> AsyncIterator[ExecutionHistory]:
    opened = await ExecutionHistory.open(
        tmp_path,
        backend_id="backend_workflow",
        backend_name="Workflow tests",
        bus=EventBus(),
        config=HistoryConfig(retention=RetentionConfig(max_age_ms=None, interval_seconds=3600)),
    )
    yield opened
    await opened.close()
