"""The change bus across replicas (two PostgreSQL stores on one database): every committed change reaches
the other replica's subscribers, large records included (fetched by id past the 8 KB notification limit);
a rolled-back write announces nothing; a replica's own-changes subscription (database triggers) never
sees the other's changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sidecar.errors import IncorrectTypeError
from sidecar.store import BatchMethod, BatchOp, CallerContext, ChangeEvent
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


async def _until(seen: list[ChangeEvent], count: int) -> None:
    for _ in range(200):
        if len(seen) >= count:
            return
        await asyncio.sleep(0.01)


async def test_changes_on_one_replica_reach_subscribers_on_the_other(
    pair: tuple[PostgresRecordStore, PostgresRecordStore],
) -> None:
    first, second = pair
    seen: list[ChangeEvent] = []
    local: list[ChangeEvent] = []
    second.subscribe(seen.append)
    second.subscribe_local(local.append)
    created = await first.create("Item", {"n": 1}, MASTER)  # a new class: a transaction
    plain = await first.create("Item", {"n": 5}, MASTER)  # a known class: one statement
    await first.save("Item", created.object_id, {"n": 2}, MASTER)
    big = await first.create("Item", {"n": 6, "text": "x" * 20_000}, MASTER)  # past the notification limit
    await first.delete("Item", created.object_id, MASTER)
    await _until(seen, 5)
    assert [(e.action.value, e.object_id) for e in seen] == [
        ("create", created.object_id),
        ("create", plain.object_id),
        ("update", created.object_id),
        ("create", big.object_id),
        ("delete", created.object_id),
    ]
    assert seen[1].record["n"] == 5
    assert seen[2].record["n"] == 2
    assert seen[3].record["text"] == "x" * 20_000
    assert local == []


async def test_a_rolled_back_batch_announces_nothing(
    pair: tuple[PostgresRecordStore, PostgresRecordStore],
) -> None:
    first, second = pair
    seen: list[ChangeEvent] = []
    second.subscribe(seen.append)
    ops = [BatchOp(BatchMethod.CREATE, "Item", {"n": 1}), BatchOp(BatchMethod.CREATE, "Item", {"n": "x"})]
    with pytest.raises(IncorrectTypeError):
        await first.batch(ops, MASTER, transaction=True)
    marker = await first.create("Other", {"n": 1}, MASTER)
    await _until(seen, 1)
    assert [e.object_id for e in seen] == [marker.object_id]


async def test_a_schema_change_on_one_replica_reaches_the_other(
    pair: tuple[PostgresRecordStore, PostgresRecordStore],
) -> None:
    first, second = pair
    seen: list[ChangeEvent] = []
    second.subscribe(seen.append)
    await first.create("Item", {"n": 1}, MASTER)
    await first.create("Item", {"fresh": "y"}, MASTER)
    await _until(seen, 2)
    assert seen[1].record["fresh"] == "y"
    assert "fresh" in second.schemas()["Item"].fields  # read again before the change was delivered


async def test_the_bus_listens_again_after_the_server_drops_its_connection(
    pair: tuple[PostgresRecordStore, PostgresRecordStore], pg_server: str
) -> None:
    import psycopg

    first, second = pair
    assert second._listener is not None
    pid = second._listener.backend_pid
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    for _ in range(100):  # reconnected: a new server process listens
        if second._listener.backend_pid not in (None, pid):
            break
        await asyncio.sleep(0.05)
    seen: list[ChangeEvent] = []
    second.subscribe(seen.append)
    made = await first.create("Item", {"n": 1}, MASTER)
    await _until(seen, 1)
    assert [e.object_id for e in seen] == [made.object_id]


async def test_creates_sent_together_share_announcements_and_each_reaches_the_other_replica(
    pair: tuple[PostgresRecordStore, PostgresRecordStore],
) -> None:
    import asyncpg

    first, second = pair
    seen: list[ChangeEvent] = []
    second.subscribe(seen.append)
    await first.create("Item", {"n": -1}, MASTER)  # the class exists: each create is one row of a group
    await _until(seen, 1)
    seen.clear()
    heard: list[str] = []
    listening = await asyncpg.connect(first.url)
    await listening.add_listener("noodl_changes", lambda *args: heard.append(args[3]))
    try:
        made = await asyncio.gather(*(first.create("Item", {"n": n}, MASTER) for n in range(40)))
        await _until(seen, 40)
    finally:
        await listening.close()
    assert sorted(e.object_id for e in seen) == sorted(m.object_id for m in made)
    assert sorted(e.record["n"] for e in seen) == list(range(40))
    assert len(heard) < 40  # creates written together were announced together


async def test_creates_announced_together_are_split_across_notifications_by_size(
    pair: tuple[PostgresRecordStore, PostgresRecordStore],
) -> None:
    first, second = pair
    seen: list[ChangeEvent] = []
    second.subscribe(seen.append)
    await first.create("Item", {"n": -1, "text": ""}, MASTER)
    await _until(seen, 1)
    seen.clear()
    bodies = [{"n": n, "text": str(n) * 3_000} for n in range(30)]  # two or so to a notification
    made = await asyncio.gather(*(first.create("Item", body, MASTER) for body in bodies))
    await _until(seen, 30)
    assert sorted(e.object_id for e in seen) == sorted(m.object_id for m in made)
    assert all(e.record["text"] == str(e.record["n"]) * 3_000 for e in seen)


async def test_a_create_stores_its_document_as_written_not_as_answered(
    pair: tuple[PostgresRecordStore, PostgresRecordStore],
) -> None:
    first, _ = pair
    fields = {"n": {"type": "Number"}, "tags": {"type": "Relation", "targetClass": "Tag"}}
    await first.create_class("Item", {"fields": fields})
    made = await asyncio.gather(*(first.create("Item", {"n": n}, MASTER) for n in range(5)))
    assert all(m.object["tags"] == {"__type": "Relation", "className": "Tag"} for m in made)  # answered
    for created in made:
        doc = await first.pool.fetchval(
            "SELECT doc FROM noodl_records WHERE object_id = $1", created.object_id
        )
        assert "tags" not in doc  # a relation lives in noodl_relations; its document holds no copy
