"""Fixtures for the records store tests: a store per test on each backend, and callers.

``store`` is parametrised: every test that takes it runs on a file-backed SQLite store and on a PostgreSQL
store (a schema of its own on the session's throwaway server). A test of something only the SQLite store
has (its files, its write queue, its exports) says so with ``@pytest.mark.sqlite_only("why")`` and is skipped
on PostgreSQL with that reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sidecar.store import CallerContext
from tests.postgres import open_store


@pytest.fixture
async def store(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> AsyncIterator[Any]:
    opened = await open_store(request, backend, tmp_path / "local.db")
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
