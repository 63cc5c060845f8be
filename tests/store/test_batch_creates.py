"""Transactional batches of creates: runs of one class and shape go in together, with the same answers,
errors and order as one create at a time."""

from __future__ import annotations

import pytest

from sidecar.errors import DuplicateObjectIdError, InvalidKeyNameError
from sidecar.store import BatchMethod, BatchOp, CallerContext, ChangeEvent, QueryOptions, SqliteRecordStore


def create(body: dict[str, object], class_name: str = "Item") -> BatchOp:
    return BatchOp(BatchMethod.CREATE, class_name, body)


async def test_every_created_row_is_stored_with_its_own_fields_in_order(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    seen: list[ChangeEvent] = []
    store.subscribe(seen.append)
    ops = [
        create({"objectId": "a1", "n": 1}),
        create({"objectId": "a2", "n": 2}),
        create({"objectId": "b1", "n": 3, "tag": "new column"}),
        create({"objectId": "c1", "label": "x"}, "Other"),
        create({"objectId": "a3", "n": 4}),
    ]
    results = await store.batch(ops, master, transaction=True)

    assert [r.success and r.success["objectId"] for r in results] == ["a1", "a2", "b1", "c1", "a3"]
    assert [e.object_id for e in seen] == ["a1", "a2", "b1", "c1", "a3"]
    items = (await store.query("Item", QueryOptions(order=("n",)), master)).results
    assert [(i["objectId"], i["n"], i.get("tag")) for i in items] == [
        ("a1", 1, None),
        ("a2", 2, None),
        ("b1", 3, "new column"),
        ("a3", 4, None),
    ]
    assert [o["label"] for o in (await store.query("Other", QueryOptions(), master)).results] == ["x"]


async def test_a_later_op_sees_the_rows_created_before_it(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    ops = [
        create({"objectId": "a1", "n": 1}),
        create({"objectId": "a2", "n": 2}),
        BatchOp(BatchMethod.SAVE, "Item", {"n": 20}, "a2"),
        create({"objectId": "a3", "n": 3}),
        BatchOp(BatchMethod.DELETE, "Item", object_id="a1"),
    ]
    await store.batch(ops, master, transaction=True)

    items = (await store.query("Item", QueryOptions(order=("n",)), master)).results
    assert [(i["objectId"], i["n"]) for i in items] == [("a3", 3), ("a2", 20)]


async def test_a_duplicate_id_fails_the_batch_naming_that_id_and_stores_nothing(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    await store.create("Item", {"objectId": "taken", "n": 0}, master)
    ops = [create({"objectId": f"k{i}", "n": i}) for i in range(5)]
    ops.insert(3, create({"objectId": "taken", "n": 9}))

    with pytest.raises(DuplicateObjectIdError, match='"taken"'):
        await store.batch(ops, master, transaction=True)
    assert await store.count("Item", {}, master) == 1


async def test_the_first_failing_op_is_the_one_reported(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    ops = [
        create({"objectId": "same", "n": 1}),
        create({"objectId": "same", "n": 2}),  # fails first: a duplicate within the batch
        create({"objectId": "x", "bad key!": 3}),  # would fail too, later
    ]
    with pytest.raises(DuplicateObjectIdError):
        await store.batch(ops, master, transaction=True)
    ops[1] = create({"objectId": "other", "n": 2})
    with pytest.raises(InvalidKeyNameError):
        await store.batch(ops, master, transaction=True)
    assert await store.count("Item", {}, master) == 0
