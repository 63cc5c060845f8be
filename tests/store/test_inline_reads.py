"""Short reads on the event loop's thread: a read within the budget answers there, one past it answers the
same from a reader thread, a shape that ran out of budget goes to the threads directly (and is tried again
now and then), and errors read the same wherever the read ran."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from sidecar.errors import ObjectNotFoundError, StorageError
from sidecar.store import CallerContext, QueryOptions, SqliteRecordStore
from sidecar.store.sqlite import inline
from sidecar.store.sqlite.readpool import ReadPool

ROWS = 3_000


@pytest.fixture
def database(tmp_path: Path) -> str:
    path = tmp_path / "local.db"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (n INTEGER)")
    setup.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(ROWS)])
    setup.commit()
    setup.close()
    return str(path)


@pytest.fixture
async def pool(database: str) -> AsyncIterator[ReadPool]:
    opened = ReadPool(database, size=1, inline_budget=2_000)
    try:
        yield opened
    finally:
        await opened.close()


def first_above(limit: int) -> Callable[[sqlite3.Connection], tuple[int, str]]:
    """The first row past ``limit`` in table order (a scan of ``limit`` rows), and the thread that read it."""

    def job(connection: sqlite3.Connection) -> tuple[int, str]:
        row = connection.execute("SELECT n FROM t WHERE n > ? LIMIT 1", (limit,)).fetchone()
        return int(row[0]), threading.current_thread().name

    return job


async def test_a_short_read_answers_on_the_loop_thread(pool: ReadPool) -> None:
    assert await pool.submit(first_above(5), shape="short") == (6, threading.current_thread().name)


async def test_a_read_past_the_budget_answers_the_same_from_a_reader_thread(pool: ReadPool) -> None:
    value, thread = await pool.submit(first_above(ROWS - 10), shape="scan")
    assert value == ROWS - 9
    assert thread.startswith("store-reader")


async def test_a_shape_that_ran_out_of_budget_goes_to_the_threads_then_is_tried_again(
    pool: ReadPool,
) -> None:
    await pool.submit(first_above(ROWS - 10), shape="where n > ?")
    # The same shape, now with a value that would fit the budget: straight to a reader thread ...
    threads = [(await pool.submit(first_above(1), shape="where n > ?"))[1] for _ in range(inline.PROBE_EVERY)]
    assert all(name.startswith("store-reader") for name in threads[:-1])
    # ... except one in PROBE_EVERY, which is tried on the loop again; it fits, so the shape is forgiven.
    assert threads[-1] == threading.current_thread().name
    assert (await pool.submit(first_above(1), shape="where n > ?"))[1] == threading.current_thread().name


async def test_reads_without_a_shape_or_with_python_per_row_stay_on_the_threads(pool: ReadPool) -> None:
    assert (await pool.submit(first_above(1)))[1].startswith("store-reader")
    assert (await pool.submit(first_above(1), shape="s", costly=True))[1].startswith("store-reader-costly")


async def test_a_failing_short_read_raises_the_store_error_and_leaves_no_transaction_open(
    pool: ReadPool,
) -> None:
    with pytest.raises(StorageError):
        await pool.submit(lambda c: c.execute("SELECT * FROM missing").fetchall(), shape="bad")
    assert (await pool.submit(first_above(5), shape="short"))[0] == 6


def test_a_read_stopped_by_its_budget_leaves_the_next_reads_working(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The budget's progress handler also fired inside the COMMIT that ends a read once the read was
    over budget: the snapshot stayed open and every later read on the loop's connection failed with
    "cannot start a transaction within a transaction" (500s and refused realtime subscriptions, seen
    after a minute of unindexed queries). A progress check on every instruction makes it certain."""
    monkeypatch.setattr(inline, "PROGRESS_EVERY", 1)
    reader = inline.InlineReader(database, budget=200)
    try:
        with pytest.raises(inline.OverBudget):
            reader.run(first_above(ROWS - 10), shape="scan")
        assert reader.run(first_above(5), shape="short")[0] == 6
    finally:
        reader.close()


FINDS = [
    QueryOptions(where={"n": {"$gt": 390}}, limit=5),
    QueryOptions(where={"n": {"$gte": 10}}, order=("-n",), limit=4, skip=3),
    QueryOptions(where={"n": {"$lt": 50}}, order=("tag", "-n"), limit=6, count=True),
    QueryOptions(where={"$or": [{"n": 3}, {"n": {"$in": [7, 399]}}]}, keys=("n",)),
    QueryOptions(where={"n": {"$gt": 1000}}, count=True),
    QueryOptions(where={"n": {"$lt": 20}}, limit=0, count=True),
    QueryOptions(where={}, order=("n",), limit=3, include=("next",)),
]


async def test_store_answers_are_the_same_within_and_past_the_budget(tmp_path: Path) -> None:
    """The store's finds, gets and counts, once with every read tried on the loop's thread and once with
    none."""
    path = tmp_path / "local.db"
    store = await SqliteRecordStore.open(path)
    master = CallerContext.master()
    fields = {
        "n": {"type": "Number"},
        "tag": {"type": "String"},
        "next": {"type": "Pointer", "targetClass": "Item"},
    }
    await store.create_class("Item", {"fields": fields})
    created: list[str] = []
    for i in range(400):
        body: dict[str, object] = {"n": i, "tag": f"t{i % 7}"}
        if created:
            body["next"] = {"__type": "Pointer", "className": "Item", "objectId": created[-1]}
        created.append((await store.create("Item", body, master)).object_id)
    await store.close()
    answers = []
    for budget in (1_000_000, 0):
        store = await SqliteRecordStore.open(path, inline_budget=budget)
        try:
            anonymous = CallerContext.anonymous()
            pages = [(await store.query("Item", options, anonymous)).to_wire() for options in FINDS]
            got = await store.fetch("Item", created[7], anonymous)
            with pytest.raises(ObjectNotFoundError):
                await store.fetch("Item", "missing", anonymous)
            total = await store.count("Item", {"n": {"$lt": 100}}, anonymous)
            answers.append((pages, got, total))
        finally:
            await store.close()
    assert answers[0] == answers[1]
    pages, got, total = answers[0]
    assert [o["n"] for o in pages[0]["results"]] == [391, 392, 393, 394, 395]
    assert [o["n"] for o in pages[1]["results"]] == [396, 395, 394, 393]
    assert [(o["tag"], o["n"]) for o in pages[2]["results"]] == [
        ("t0", 49),
        ("t0", 42),
        ("t0", 35),
        ("t0", 28),
        ("t0", 21),
        ("t0", 14),
    ]
    assert pages[2]["count"] == 50
    assert sorted(o["n"] for o in pages[3]["results"]) == [3, 7, 399]
    assert pages[4] == {"results": [], "count": 0}
    assert pages[5] == {"results": [], "count": 20}
    assert pages[6]["results"][1]["next"]["n"] == 0
    assert pages[6]["results"][1]["next"]["__type"] == "Object"
    assert (got["n"], total) == (7, 100)


async def test_a_read_from_another_thread_goes_to_the_reader_threads(pool: ReadPool) -> None:
    """The loop's connection is the loop's alone: a read submitted from another thread's event loop does
    not share it (two threads in one connection would interleave their transactions)."""

    def elsewhere() -> tuple[int, str]:
        async def read() -> tuple[int, str]:
            return await pool.submit(first_above(5), shape="short")

        return asyncio.run(read())

    value, thread = await asyncio.to_thread(elsewhere)
    assert value == 6
    assert thread.startswith("store-reader")


async def test_a_locked_database_does_not_hold_the_loop(database: str) -> None:
    """A lock the read would wait for: the loop does not wait (it keeps ticking), the read waits on a reader
    thread and answers once the lock is gone."""
    pool = ReadPool(database, size=1, inline_budget=2_000)
    locker = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    try:
        locker.execute("PRAGMA locking_mode=EXCLUSIVE")
        locker.execute("BEGIN EXCLUSIVE")
        locker.execute("INSERT INTO t VALUES (-1)")
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticking = asyncio.ensure_future(tick())
        read = asyncio.ensure_future(pool.submit(first_above(5), shape="short"))
        await asyncio.sleep(0.3)
        assert not read.done()
        assert ticks >= 10
        locker.close()  # an exclusive lock in WAL mode lasts as long as its connection
        value, thread = await asyncio.wait_for(read, 5)
        ticking.cancel()
        assert value == 6
        assert thread.startswith("store-reader")
    finally:
        locker.close()
        await pool.close()


async def test_a_read_too_long_for_the_budget_is_reported_and_a_short_one_is_not(pool: ReadPool) -> None:
    reported: list[str] = []
    await pool.submit(first_above(5), shape="short", on_long=lambda: reported.append("short"))
    assert reported == []
    await pool.submit(first_above(ROWS - 10), shape="long", on_long=lambda: reported.append("long"))
    await pool.submit(first_above(ROWS - 10), shape="long", on_long=lambda: reported.append("long again"))
    assert reported == ["long", "long again"]  # past the budget, then straight to a thread: both long
