"""Readers work while the writer writes (WAL), and every reader sees whole transactions only."""

from __future__ import annotations

import asyncio

import pytest

from sidecar.errors import InvalidClassNameError
from sidecar.store import BatchMethod, BatchOp, CallerContext, QueryOptions, SqliteRecordStore


async def test_readers_never_see_half_a_batch(store: SqliteRecordStore, master: CallerContext) -> None:
    await store.create("Item", {"n": -1}, master)
    counts: list[int] = []

    async def write() -> None:
        for round_ in range(20):
            ops = [BatchOp(BatchMethod.CREATE, "Item", {"n": round_ * 50 + i}) for i in range(50)]
            await store.batch(ops, master, transaction=True)

    async def read() -> None:
        for _ in range(60):
            counts.append(await store.count("Item", {}, master))
            await asyncio.sleep(0)

    await asyncio.gather(write(), read(), read())
    assert all((count - 1) % 50 == 0 for count in counts)
    assert await store.count("Item", {}, master) == 1001


async def test_system_and_join_tables_are_not_listed_as_classes(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    group = await store.create("Group", {}, master)
    pointer = {"__type": "Pointer", "className": "Group", "objectId": group.object_id}
    await store.add_relation("Group", group.object_id, "children", [pointer], master)
    names = {schema["className"] for schema in await store.list_schemas()}
    assert names == {"_User", "_Session", "_Role", "Group"}
    with pytest.raises(InvalidClassNameError):  # internal tables are not reachable as classes
        await store.query("_Join_children_Group", QueryOptions(), master)


async def test_concurrent_increments_are_never_lost(store: SqliteRecordStore, master: CallerContext) -> None:
    counter = await store.create("Counter", {"hits": 0}, master)
    bumps = [store.increment("Counter", counter.object_id, "hits", 1, master) for _ in range(100)]
    await asyncio.gather(*bumps)
    assert (await store.fetch("Counter", counter.object_id, master))["hits"] == 100
