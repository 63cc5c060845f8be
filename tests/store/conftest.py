"""Fixtures for the records store tests: a file-backed store per test, and callers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sidecar.store import CallerContext, SqliteRecordStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteRecordStore]:
    opened = await SqliteRecordStore.open(tmp_path / "local.db")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def master() -> CallerContext:
    return CallerContext.master()


@pytest.fixture
def anonymous() -> CallerContext:
    return CallerContext.anonymous()
