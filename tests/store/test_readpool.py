"""The reader threads: answers and errors reach the caller, a cancelled caller frees nothing it should not,
and close lets queued reads finish."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sidecar.errors import StorageError
from sidecar.store.sqlite.readpool import ReadPool


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[ReadPool]:
    path = tmp_path / "local.db"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (n INTEGER)")
    setup.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(10)])
    setup.commit()
    setup.close()
    opened = ReadPool(str(path), size=2)
    try:
        yield opened
    finally:
        await opened.close()


def total(connection: sqlite3.Connection) -> int:
    return int(connection.execute("SELECT sum(n) FROM t").fetchone()[0])


async def test_many_concurrent_reads_all_answer(pool: ReadPool) -> None:
    assert await asyncio.gather(*(pool.submit(total) for _ in range(50))) == [45] * 50


async def test_a_failing_read_raises_the_store_error(pool: ReadPool) -> None:
    with pytest.raises(StorageError):
        await pool.submit(lambda connection: connection.execute("SELECT * FROM missing").fetchall())
    assert await pool.submit(total) == 45  # and the thread is still serving


async def test_a_cancelled_read_is_skipped_and_the_pool_keeps_serving(pool: ReadPool) -> None:
    release = threading.Event()
    ran: list[str] = []

    def blocking(connection: sqlite3.Connection) -> int:
        release.wait(5)
        return total(connection)

    def recorded(connection: sqlite3.Connection) -> int:
        ran.append("cancelled job")
        return 0

    busy = [asyncio.ensure_future(pool.submit(blocking)) for _ in range(2)]  # both threads taken
    await asyncio.sleep(0.05)
    waiting = asyncio.ensure_future(pool.submit(recorded))
    await asyncio.sleep(0.05)
    waiting.cancel()
    release.set()
    assert await asyncio.gather(*busy) == [45, 45]
    assert await pool.submit(total) == 45
    assert ran == []


async def test_close_lets_queued_reads_finish(pool: ReadPool) -> None:
    def slow(connection: sqlite3.Connection) -> int:
        time.sleep(0.02)
        return total(connection)

    reads = [asyncio.ensure_future(pool.submit(slow)) for _ in range(6)]
    await asyncio.sleep(0)
    await pool.close()
    assert await asyncio.gather(*reads) == [45] * 6
