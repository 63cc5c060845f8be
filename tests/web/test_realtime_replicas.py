"""Realtime across replicas: three apps on three PostgreSQL stores sharing one database, as three
``serve --database-url`` processes would be; a change made through one replica reaches an SSE subscriber
of another, filtered and in order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from sidecar.store.postgres.store import PostgresRecordStore
from sidecar.web import WebSettings, build_app
from tests.postgres import new_schema_url
from tests.web.conftest import APP_ID, MASTER_KEY, Client
from tests.web.test_realtime import as_admin, create


@pytest.fixture
async def replicas(tmp_path: Path, pg_server: str) -> AsyncIterator[list[Client]]:
    url = new_schema_url(pg_server)
    stores = [await PostgresRecordStore.open(url) for _ in range(3)]
    clients: list[Client] = []
    for n, store in enumerate(stores):
        settings = WebSettings(
            app_id=APP_ID,
            master_key=MASTER_KEY,
            files_dir=tmp_path / f"files{n}",
            config_path=tmp_path / f"config{n}.json",
        )
        client: Client = TestClient(TestServer(build_app(store, settings), host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
    try:
        yield clients
    finally:
        for client in clients:
            await client.close()
        for store in stores:
            await store.close()


@pytest.fixture
async def opened() -> AsyncIterator[list[ClientResponse]]:
    responses: list[ClientResponse] = []
    yield responses
    for response in responses:
        response.close()


async def test_a_create_on_one_replica_reaches_a_subscriber_on_another(
    replicas: list[Client], opened: list[ClientResponse]
) -> None:
    first, _, third = replicas
    await create(first, "Game", {"score": 0})  # the class exists before anyone subscribes
    subscriber = await as_admin(third, opened)
    await subscriber.subscribe({"collection": "Game", "filter": {"score": {"$gte": 10}}})
    skipped = await create(first, "Game", {"score": 1})
    made = [await create(replicas[n % 2], "Game", {"score": 10 + n}) for n in range(4)]
    frames = [await subscriber.change() for _ in made]
    assert [frame.data["id"] for frame in frames] == made
    assert skipped not in [frame.data["id"] for frame in frames]
    assert [frame.data["record"]["score"] for frame in frames] == [10, 11, 12, 13]
