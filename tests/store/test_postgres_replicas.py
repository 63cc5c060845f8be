"""Two PostgreSQL stores on one database, as two replicas of a backend: each sees the other's classes,
and schema changes made on one are never lost by a write on the other (each decides on the committed
schema, under a lock)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sidecar.store import CallerContext, QueryOptions
from sidecar.store.postgres.store import PostgresRecordStore
from tests.postgres import new_schema_url

MASTER = CallerContext.master()


@pytest.fixture
async def pair(pg_server: str) -> AsyncIterator[tuple[PostgresRecordStore, PostgresRecordStore]]:
    url = new_schema_url(pg_server)
    first = await PostgresRecordStore.open(url)
    second = await PostgresRecordStore.open(url)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_a_class_made_on_one_replica_is_read_on_the_other(
    pair: tuple[PostgresRecordStore, PostgresRecordStore],
) -> None:
    first, second = pair
    created = await first.create("Item", {"n": 1}, MASTER)
    assert (await second.fetch("Item", created.object_id, MASTER))["n"] == 1
    assert await second.count("Item", {"n": 1}, MASTER) == 1


async def test_fields_added_on_either_replica_all_stay_in_the_schema(
    pair: tuple[PostgresRecordStore, PostgresRecordStore],
) -> None:
    first, second = pair
    await first.create("Item", {"a": 1}, MASTER)
    await second.create("Item", {"b": "x"}, MASTER)  # second never cached Item before this write
    await asyncio.gather(first.create("Item", {"c": True}, MASTER), second.create("Item", {"d": [1]}, MASTER))
    await first.reload_schemas()
    fields = (await first.get_schema("Item"))["fields"]
    assert {"a", "b", "c", "d"} <= set(fields)
    assert fields["b"]["type"] == "String"
    rows = await second.query("Item", QueryOptions(where={"c": True}), MASTER)
    assert len(rows.results) == 1
