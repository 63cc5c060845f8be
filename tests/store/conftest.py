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

from sidecar.store import CallerContext, SqliteRecordStore
from sidecar.store.postgres.store import PostgresRecordStore
from tests.postgres import new_schema_url

BACKENDS = ("sqlite", "postgres")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): the test covers what only the SQLite store has")


async def open_store(request: pytest.FixtureRequest, backend: str, tmp_path: Path, **options: Any) -> Any:
    """A new store on ``backend`` (``options`` as both stores' ``open`` take them)."""
    if backend == "sqlite":
        return await SqliteRecordStore.open(tmp_path / "local.db", **options)
    marker = request.node.get_closest_marker("sqlite_only")
    if marker is not None:
        pytest.skip(f"SQLite only: {marker.args[0] if marker.args else ''}")
    url = new_schema_url(request.getfixturevalue("pg_server"))
    return await PostgresRecordStore.open(url, **options)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Which record store the test runs on."""
    return str(request.param)


@pytest.fixture
async def store(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> AsyncIterator[Any]:
    opened = await open_store(request, backend, tmp_path)
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
