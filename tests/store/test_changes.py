"""The change bus: events after commit only, deletes carry the old row, rolled-back batches emit nothing."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from sidecar.errors import IncorrectTypeError
from sidecar.store import (
    BatchMethod,
    BatchOp,
    CallerContext,
    ChangeAction,
    ChangeEvent,
    SqliteRecordStore,
)


async def test_create_update_delete_events_carry_full_records(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    seen: list[ChangeEvent] = []
    store.subscribe(seen.append)
    created = await store.create("Item", {"n": 1, "s": "x"}, master)
    await store.save("Item", created.object_id, {"n": 2}, master)
    await store.delete("Item", created.object_id, master)
    assert [e.action for e in seen] == [ChangeAction.CREATE, ChangeAction.UPDATE, ChangeAction.DELETE]
    assert seen[1].record["n"] == 2
    assert seen[1].record["s"] == "x"
    assert seen[2].record == {**seen[1].record}  # the row as it was before deletion
    assert seen[2].to_wire() == {
        "action": "delete",
        "collection": "Item",
        "id": created.object_id,
        "record": seen[1].record,
    }


@pytest.mark.sqlite_only("reads the SQLite file")
async def test_events_are_emitted_only_after_the_write_is_committed(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    committed_at_event: list[bool] = []

    def listener(event: ChangeEvent) -> None:
        # A separate connection sees only committed data: the row must already be there.
        outside = sqlite3.connect(store.path)
        try:
            row = outside.execute('SELECT 1 FROM "Item" WHERE "objectId" = ?', (event.object_id,)).fetchone()
        finally:
            outside.close()
        committed_at_event.append(row is not None)

    store.subscribe(listener)
    await store.create("Item", {"n": 1}, master)
    await store.batch([BatchOp(BatchMethod.CREATE, "Item", {"n": i}) for i in range(3)], master)
    assert committed_at_event == [True, True, True, True]


async def test_a_rolled_back_transactional_batch_emits_nothing_and_writes_nothing(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    await store.create("Item", {"n": 1}, master)
    seen: list[ChangeEvent] = []
    store.subscribe(seen.append)
    ops = [BatchOp(BatchMethod.CREATE, "Item", {"n": 2}), BatchOp(BatchMethod.CREATE, "Item", {"n": "bad"})]
    with pytest.raises(IncorrectTypeError):
        await store.batch(ops, master, transaction=True)
    assert seen == []
    assert await store.count("Item", {}, master) == 1


async def test_a_plain_batch_reports_each_item_and_emits_for_successes(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    seen: list[ChangeEvent] = []
    store.subscribe(seen.append)
    created = await store.create("Item", {"n": 1}, master)
    results = await store.batch(
        [
            BatchOp(BatchMethod.SAVE, "Item", {"n": 5}, created.object_id),
            BatchOp(BatchMethod.SAVE, "Item", {"n": 6}, "missing"),
            BatchOp(BatchMethod.DELETE, "Item", object_id=created.object_id),
        ],
        master,
    )
    assert results[0].success is not None
    assert "updatedAt" in results[0].success
    assert results[1].error is not None
    assert getattr(results[1].error, "parse_code", None) == 101
    assert results[2].success == {}
    assert [e.action for e in seen] == [ChangeAction.CREATE, ChangeAction.UPDATE, ChangeAction.DELETE]


async def test_failing_listeners_are_isolated(store: SqliteRecordStore, master: CallerContext) -> None:
    seen: list[ChangeEvent] = []

    def broken(event: ChangeEvent) -> None:
        raise RuntimeError("listener bug")

    store.subscribe(broken)
    subscription = store.subscribe(seen.append)
    await store.create("Item", {}, master)
    subscription.close()
    await store.create("Item", {}, master)
    assert len(seen) == 1


@pytest.mark.sqlite_only(
    "one writer makes submission order the commit order; PostgreSQL commits concurrent writes in parallel"
)
async def test_concurrent_writes_are_all_acknowledged_in_commit_order(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    seen: list[ChangeEvent] = []
    store.subscribe(seen.append)
    created = await asyncio.gather(*(store.create("Item", {"n": i}, master) for i in range(200)))
    assert len({c.object_id for c in created}) == 200
    assert await store.count("Item", {}, master) == 200
    assert [e.record["n"] for e in seen] == list(range(200))


async def test_subscription_filters_match_like_queries_and_respect_acls(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    from sidecar.errors import InvalidQueryError

    seen: list[ChangeEvent] = []
    store.subscribe(seen.append)
    await store.create("Item", {"n": 5, "tags": ["a"]}, master)
    await store.create("Item", {"n": 1, "ACL": {"someone": {"read": True}}}, master)
    where = {"n": {"$gte": 1}}
    assert [store.matches("Item", where, e.record, master) for e in seen] == [True, True]
    anonymous = CallerContext.anonymous()
    assert [store.matches("Item", where, e.record, anonymous) for e in seen] == [True, False]
    assert [store.matches("Item", {"tags": "a"}, e.record, master) for e in seen] == [True, False]
    with pytest.raises(InvalidQueryError):
        store.check_filter("Item", {"$relatedTo": {"object": {}, "key": "x"}})


async def test_change_records_are_redacted_per_subscriber(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    seen: list[ChangeEvent] = []
    store.subscribe(seen.append)
    await store.signup({"username": "ann", "password": "pw", "email": "ann@x.io"}, CallerContext.anonymous())
    user_event = next(e for e in seen if e.class_name == "_User")
    assert user_event.record["email"] == "ann@x.io"  # the bus carries the full row
    assert "email" not in store.redact("_User", user_event.record, CallerContext.anonymous())
    assert store.redact("_User", user_event.record, master)["email"] == "ann@x.io"
