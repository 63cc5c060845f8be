"""Fixtures for the HTTP door: a file-backed store, and the app served on a real loopback port."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sidecar.store import SqliteRecordStore
from sidecar.web import FunctionInvoker, WebSettings, build_app
from sidecar.web.realtime import filter as realtime_filter
from tests.postgres import open_store

APP_ID = "backend_test"
MASTER_KEY = "admin-token-for-tests"

Client = TestClient[Any, Any]
MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
async def store(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> AsyncIterator[Any]:
    """The records behind the door, on each store (see ``tests.postgres.open_store``)."""
    opened = await open_store(request, backend, tmp_path / "data" / "local.db")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def settings(tmp_path: Path) -> WebSettings:
    return WebSettings(
        app_id=APP_ID,
        master_key=MASTER_KEY,
        files_dir=tmp_path / "files",
        config_path=tmp_path / "config-params.json",
    )


@pytest.fixture
async def make_client(store: SqliteRecordStore, settings: WebSettings) -> AsyncIterator[MakeClient]:
    """``await make_client(mount="/parse", functions=invoker, ...)``: a client of a freshly served app;
    keyword arguments override fields of the default settings."""
    clients: list[Client] = []

    async def make(functions: FunctionInvoker | None = None, **overrides: Any) -> Client:
        app = build_app(store, dataclasses.replace(settings, **overrides), functions)
        client: Client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def client(make_client: MakeClient) -> Client:
    return await make_client()


def app_headers(**extra: str) -> dict[str, str]:
    return {"X-Parse-Application-Id": APP_ID, **extra}


def master_headers(**extra: str) -> dict[str, str]:
    return app_headers(**{"X-Parse-Master-Key": MASTER_KEY, **extra})


@pytest.fixture(autouse=True)
def fresh_realtime_regex_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with the process's realtime regex budget whole: a test's deliberately slow
    filters must not spend the time of the next test's (the budget is per second, per process)."""
    monkeypatch.setattr(realtime_filter, "_LOOP_BUDGET", realtime_filter._RegexBudget())
