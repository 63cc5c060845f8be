"""Automatic indexes (SQLite): a field that finds keep scanning gets an index, the answers stay the same
(missing values, ACL-hidden rows before the limit, orders), and the index stays out of the declared
schema and goes with its field."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sidecar.store import BatchMethod, BatchOp, CallerContext, QueryOptions, SqliteRecordStore
from sidecar.store.schema import ClassSchema, FieldSchema
from sidecar.store.sqlite import auto_index

ROWS = 6_000
MASTER = CallerContext.master()
ANONYMOUS = CallerContext.anonymous()


def _row(i: int) -> dict[str, Any]:
    row: dict[str, Any] = {"bucket": i % 10, "name": f"row-{i:05d}"}
    if i % 7:  # every seventh row has no n at all
        row["n"] = i if i % 3 else float(i) + 0.5
    if i % 5 == 0:  # and every fifth is private to a user
        row["ACL"] = {"someone": {"read": True, "write": True}}
    return row


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteRecordStore]:
    opened = await SqliteRecordStore.open(tmp_path / "local.db")
    fields = {"n": {"type": "Number"}, "bucket": {"type": "Number"}, "name": {"type": "String"}}
    await opened.create_class("Item", {"fields": fields, "indexes": {"bucket_1": {"bucket": 1}}})
    for offset in range(0, ROWS, 1000):
        ops = [BatchOp(BatchMethod.CREATE, "Item", _row(i)) for i in range(offset, offset + 1000)]
        await opened.batch(ops, MASTER)
    try:
        yield opened
    finally:
        await opened.close()


def _indexes(store: SqliteRecordStore) -> set[str]:
    with sqlite3.connect(store.path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'Item'")
        return {str(row[0]) for row in rows}


async def _answers(store: SqliteRecordStore) -> list[list[Any]]:
    """Pages whose rows are decided by the filter, ACLs and an order (or, unordered, compared as sets)."""
    queries = [
        (QueryOptions(where={"n": {"$gt": 5_500}}, order=("n",), limit=10), ANONYMOUS),
        (QueryOptions(where={"n": {"$gt": 5_500}}, order=("-name",), limit=25), ANONYMOUS),
        (QueryOptions(where={"n": {"$gte": 100, "$lt": 140}}, limit=100), ANONYMOUS),
        (QueryOptions(where={"n": {"$lte": 20}}, limit=100), MASTER),
        (QueryOptions(where={"n": {"$gt": "text"}}, limit=100), MASTER),
        (QueryOptions(where={"n": {"$in": [1, 2, 7, 9.5, 10.5]}}, limit=100), ANONYMOUS),
        (QueryOptions(where={"n": 5_999}, limit=10), ANONYMOUS),
    ]
    answers: list[list[Any]] = []
    for options, caller in queries:
        found = (await store.query("Item", options, caller)).results
        names = [obj["name"] for obj in found]
        answers.append(names if options.order else sorted(names))
    answers.append([await store.count("Item", {"n": {"$gt": 3_000}}, ANONYMOUS)])
    return answers


async def _scan_until_indexed(store: SqliteRecordStore) -> None:
    for bound in range(auto_index.SCANS_BEFORE_INDEX + 8):
        await store.query("Item", QueryOptions(where={"n": {"$gt": 5_900 + bound}}, limit=10), ANONYMOUS)
    for _ in range(100):  # the index is made on the writer's thread, after the read that asked for it
        if auto_index.index_name("Item", "n") in _indexes(store):
            return
        await asyncio.sleep(0.01)


async def test_a_field_that_finds_keep_scanning_gets_an_index_and_the_answers_stay_the_same(
    store: SqliteRecordStore,
) -> None:
    before = await _answers(store)
    assert auto_index.index_name("Item", "n") not in _indexes(store)
    await _scan_until_indexed(store)
    assert auto_index.index_name("Item", "n") in _indexes(store)
    assert await _answers(store) == before
    with sqlite3.connect(store.path) as connection:
        plan = connection.execute('EXPLAIN QUERY PLAN SELECT * FROM "Item" WHERE "n" > 5').fetchall()
    assert "auto:Item:n" in str(plan)


async def test_an_automatic_index_is_not_declared_and_goes_with_its_field(store: SqliteRecordStore) -> None:
    await _scan_until_indexed(store)
    assert store.schemas()["Item"].indexes == {"bucket_1": {"bucket": 1}}
    await store.update_class("Item", {"fields": {"n": {"__op": "Delete"}}})
    assert not any(name.startswith(auto_index.PREFIX) for name in _indexes(store))
    assert "n" not in (await store.query("Item", QueryOptions(limit=1), MASTER)).results[0]


async def test_a_field_with_a_declared_index_or_no_column_gets_none() -> None:
    schema = ClassSchema(
        "Item",
        {
            "n": FieldSchema("Number"),
            "rank": FieldSchema("Number"),
            "flag": FieldSchema("Boolean"),
            "tags": FieldSchema("Array"),
        },
        indexes={"rank_1": {"rank": 1}},
    )
    where = {
        "n": {"$gt": 1},
        "rank": {"$gt": 1},
        "flag": True,
        "tags": "a",
        "objectId": "x",
        "missing": 1,
        "name": {"$exists": True},
    }
    assert auto_index.compared_fields(schema, where) == ["n"]
    assert auto_index.compared_fields(schema, {"n": {"$exists": True}, "$or": [{"n": 1}]}) == []


def _plan_of_find(store: SqliteRecordStore, options: QueryOptions) -> str:
    """The query plan SQLite chooses for the find's statement (as the store's reads compile it)."""
    from sidecar.store import reads  # the read functions themselves, on a connection of the test's own

    statements: list[str] = []
    with sqlite3.connect(store.path) as connection:
        connection.row_factory = sqlite3.Row
        connection.set_trace_callback(statements.append)
        automatic = auto_index.existing(connection)
        ctx = reads.ReadContext(connection, store.schemas(), ANONYMOUS, automatic)
        reads.query(ctx, "Item", options)
        connection.set_trace_callback(None)
        select = next(text for text in statements if text.startswith("SELECT t.*"))
        return str([tuple(row) for row in connection.execute("EXPLAIN QUERY PLAN " + select)])


async def test_a_find_ordered_by_another_key_keeps_its_plan_and_an_unordered_one_uses_the_index(
    store: SqliteRecordStore,
) -> None:
    await store.update_class("Item", {"indexes": {"name_1": {"name": 1}}})
    await _scan_until_indexed(store)
    ranged = {"n": {"$gt": 100}}  # most rows: walking the order's index finds a page at once
    assert "auto:Item:n" in _plan_of_find(store, QueryOptions(where=ranged, limit=10))
    assert "auto:Item:n" in _plan_of_find(store, QueryOptions(where=ranged, order=("-n",), limit=10))
    ordered = _plan_of_find(store, QueryOptions(where=ranged, order=("-name",), limit=10))
    assert "auto:Item:n" not in ordered
    assert "Item_name_1" in ordered


def test_a_class_gets_at_most_its_share_of_automatic_indexes(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "x.db") as connection:
        names = [f"f{i}" for i in range(auto_index.MAX_PER_CLASS + 2)]
        connection.execute(f'CREATE TABLE "C" ({", ".join(names)})')
        connection.execute('CREATE INDEX "C_f0_1" ON "C" (f0)')  # a declared index leads with f0
        made = [auto_index.create_index(connection, "C", name) for name in names]
        assert made == [False, *([True] * auto_index.MAX_PER_CLASS), False]
        assert auto_index.create_index(connection, "C", "gone") is False
        assert auto_index.existing(connection) == {"C": frozenset(names[1 : auto_index.MAX_PER_CLASS + 1])}


async def test_a_failed_attempt_leaves_reads_as_they_were() -> None:
    attempts: list[tuple[str, str]] = []

    async def refuse(class_name: str, field_name: str) -> bool:
        attempts.append((class_name, field_name))
        raise sqlite3.OperationalError("database is locked")

    indexer = auto_index.AutoIndexer(refuse, threshold=2)
    schema = ClassSchema("Item", {"n": FieldSchema("Number")})
    for _ in range(6):
        indexer.note_long_read(schema, {"n": {"$gt": 1}})
    await indexer.drain()
    assert attempts == [("Item", "n"), ("Item", "n")]  # at 2 long reads, then after 4 more (backed off)
    assert indexer.indexed == {}
