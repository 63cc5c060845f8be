"""The PostgreSQL store's connection pool: callers wait in line when every connection is lent, a cancelled
statement or a connection the server ended never poisons the next caller, an open transaction is rolled
back when its connection comes back, and a statement costs the client less CPU than on asyncpg's pool."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from sidecar.store.postgres.pool import ConnectionPool, PoolClosedError
from sidecar.store.postgres.store import _init_connection
from tests.postgres import new_schema_url


@pytest.fixture
def url(pg_server: str) -> str:
    return new_schema_url(pg_server)


@pytest.fixture
async def pool(url: str) -> AsyncIterator[ConnectionPool]:
    opened = await ConnectionPool.open(url, size=2, init=_init_connection, server_settings={})
    try:
        yield opened
    finally:
        await opened.close()


async def test_callers_beyond_the_size_wait_for_a_connection_in_turn(pool: ConnectionPool) -> None:
    started = time.monotonic()
    answers = await asyncio.gather(*(pool.fetchval("SELECT $1::int FROM pg_sleep(0.2)", n) for n in range(4)))
    assert answers == [0, 1, 2, 3]
    assert time.monotonic() - started >= 0.4  # two at a time


async def test_a_cancelled_statement_leaves_a_working_pool(pool: ConnectionPool) -> None:
    slow = asyncio.create_task(pool.fetchval("SELECT 1 FROM pg_sleep(5)"))
    await asyncio.sleep(0.2)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert await asyncio.gather(*(pool.fetchval("SELECT $1::int", n) for n in range(4))) == [0, 1, 2, 3]


async def test_a_transaction_left_open_is_rolled_back_when_its_connection_returns(
    pool: ConnectionPool,
) -> None:
    await pool.execute("CREATE TABLE kept (n int)")
    async with pool.acquire() as connection:
        await connection.execute("BEGIN")
        await connection.execute("INSERT INTO kept VALUES (1)")
    async with pool.acquire() as first, pool.acquire() as second:
        assert not first.is_in_transaction()
        assert not second.is_in_transaction()
    assert await pool.fetchval("SELECT count(*) FROM kept") == 0


async def test_a_postgres_error_keeps_the_connection_and_the_next_caller_is_served(
    pool: ConnectionPool,
) -> None:
    with pytest.raises(asyncpg.UndefinedTableError):
        await pool.fetch("SELECT * FROM missing_table")
    assert await pool.fetchval("SELECT 41 + 1") == 42


async def test_a_connection_the_server_ended_is_replaced(pool: ConnectionPool, url: str) -> None:
    both = [pool.fetchval("SELECT pg_backend_pid() FROM pg_sleep(0.1)") for _ in range(2)]
    pids = set(await asyncio.gather(*both))
    admin = await asyncpg.connect(url)
    try:
        for pid in pids:
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    await asyncio.sleep(0.2)
    answers = []
    for _ in range(4):
        try:
            answers.append(await pool.fetchval("SELECT 7"))
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            answers.append(None)  # the statement that finds its connection dead fails; its place reconnects
    assert answers[-2:] == [7, 7]


async def test_a_closed_pool_refuses_new_statements(url: str) -> None:
    closing = await ConnectionPool.open(url, size=1, init=_init_connection, server_settings={})
    await closing.close()
    with pytest.raises(PoolClosedError):
        await closing.fetchval("SELECT 1")


async def test_a_statement_costs_the_client_less_cpu_than_on_asyncpgs_pool(url: str) -> None:
    lean = await ConnectionPool.open(url, size=2, init=_init_connection, server_settings={})
    stock = await asyncpg.create_pool(url, min_size=2, max_size=2, init=_init_connection)
    try:
        costs = {"lean": 0.0, "stock": 0.0}
        for _ in range(3):  # interleaved, so both see the same machine
            for name, target in (("lean", lean), ("stock", stock)):
                started = time.process_time()
                for _ in range(300):
                    await target.fetchrow("SELECT $1::text", "x")
                costs[name] += time.process_time() - started
        assert costs["lean"] < costs["stock"]
    finally:
        await lean.close()
        await stock.close()
