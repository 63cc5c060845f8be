"""Short reads on the event loop's thread: a read within the budget answers there, one past it answers the
same from a reader thread, a shape that ran out of budget goes to the threads directly (and is tried again
now and then), and errors read the same wherever the read ran."""

from __future__ import annotations

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


async def test_store_answers_are_the_same_within_and_past_the_budget(tmp_path: Path) -> None:
    """The store's finds and gets, once with every read tried on the loop's thread and once with none."""
    answers = []
    for budget in (1_000_000, 0):
        store = await SqliteRecordStore.open(tmp_path / f"budget-{budget}.db", inline_budget=budget)
        try:
            master = CallerContext.master()
            await store.create_class("Item", {"fields": {"n": {"type": "Number"}}})
            created = [(await store.create("Item", {"n": i}, master)).object_id for i in range(400)]
            anonymous = CallerContext.anonymous()
            page = await store.query("Item", QueryOptions(where={"n": {"$gt": 390}}, limit=5), anonymous)
            got = await store.fetch("Item", created[7], anonymous)
            with pytest.raises(ObjectNotFoundError):
                await store.fetch("Item", "missing", anonymous)
            total = await store.count("Item", {"n": {"$lt": 100}}, anonymous)
            answers.append(([o["n"] for o in page.results], got["n"], total))
        finally:
            await store.close()
    assert answers[0] == answers[1] == ([391, 392, 393, 394, 395], 7, 100)
