"""A throwaway PostgreSQL server for the tests (``scripts/pg-test-server``), one per session.

``pg_server`` starts the cluster once; ``pg_database`` hands each test an empty database of its own;
``pg_store_url`` an empty schema of its own (cheaper: the store's tables are found through ``search_path``).
The tests that need it skip, saying why, only when no server can be started (PostgreSQL missing and not
installable here).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sidecar.store import SqliteRecordStore
from sidecar.store.postgres.store import PostgresRecordStore
from tests.conftest import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "scripts" / "pg-test-server"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URL of a throwaway PostgreSQL cluster, for the whole session."""
    try:
        started = subprocess.run(
            [str(SCRIPT), "start"], capture_output=True, text=True, timeout=600, check=True
        )
    except (subprocess.SubprocessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        pytest.skip(f"PostgreSQL test server could not be started (scripts/pg-test-server): {exc} {detail}")
    url, cluster_dir = started.stdout.split()
    try:
        yield url
    finally:
        subprocess.run([str(SCRIPT), "stop", cluster_dir], capture_output=True, timeout=120, check=False)


@pytest.fixture
def pg_database(pg_server: str) -> Iterator[str]:
    """A fresh, empty database per test."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_server.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def new_schema_url(pg_server: str) -> str:
    """A URL whose connections see only a new, empty schema (``search_path``)."""
    name = "s_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{name}"')
    return f"{pg_server}?search_path={name}"


BACKENDS = ("sqlite", "postgres")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only(reason): the test covers what only the SQLite store has")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Which record store a test that takes ``store`` runs on (the store and web suites run on both)."""
    return str(request.param)


def skip_if_sqlite_only(request: pytest.FixtureRequest) -> None:
    """On PostgreSQL: skip a test marked ``@pytest.mark.sqlite_only("why")``, saying why."""
    marker = request.node.get_closest_marker("sqlite_only")
    if marker is not None:
        pytest.skip(f"SQLite only: {marker.args[0] if marker.args else ''}")


def database_url(request: pytest.FixtureRequest, backend: str) -> str | None:
    """None on SQLite (the embedded files), else the URL of a new schema on the session's server (tests
    that open a whole history or backend pass it as ``database_url``)."""
    if backend == "sqlite":
        return None
    skip_if_sqlite_only(request)
    return new_schema_url(request.getfixturevalue("pg_server"))


async def open_store(request: pytest.FixtureRequest, backend: str, sqlite_path: Path, **options: Any) -> Any:
    """A new store on ``backend``: SQLite at ``sqlite_path``, or PostgreSQL in a schema of its own. A test
    marked ``@pytest.mark.sqlite_only("why")`` is skipped on PostgreSQL with that reason."""
    if backend == "sqlite":
        return await SqliteRecordStore.open(sqlite_path, **options)
    skip_if_sqlite_only(request)
    url = new_schema_url(request.getfixturevalue("pg_server"))
    return await PostgresRecordStore.open(url, **options)
