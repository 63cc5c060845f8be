"""The store's connections to PostgreSQL: a fixed set, lent one request at a time, for the least CPU.

asyncpg's own pool spends about 60 µs of CPU on every borrowed connection (a shielded task per release, the
acquire context, its reset hook), as much as the query itself costs the client: on the door's hot path (one
get or create is one statement) that is a fifth of the request. This pool lends a connection from a list and
takes it back in line, and does only what the store needs:

- a connection given back inside a transaction (a cancelled write) is rolled back;
- a connection whose operation was cancelled or failed outside PostgreSQL's own errors (the socket, the
  protocol) is terminated, and its place reconnects on next use; so does one the server closed (a restart,
  a terminated backend);
- callers wait in arrival order when all connections are lent.

It offers what :class:`Database` names, which ``asyncpg.Pool`` offers too (the claims and bundle tables
take either).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

import asyncpg

Init = Callable[[asyncpg.Connection], Awaitable[None]]


class Database(Protocol):
    """Statements on a lent connection, and a connection lent for several (a transaction)."""

    def acquire(self) -> Any: ...

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]: ...

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None: ...

    async def fetchval(self, query: str, *args: Any) -> Any: ...

    async def execute(self, query: str, *args: Any) -> str: ...


async def bootstrap(
    pool: Database,
    lock_key: int,
    statements: Iterable[str],
    then: Callable[[asyncpg.Connection], Awaitable[object]] | None = None,
) -> None:
    """Run a set of tables' ``CREATE … IF NOT EXISTS`` statements in one transaction under the advisory
    lock ``lock_key``: replicas starting together would otherwise race on them. ``then`` runs in the same
    transaction, after them (a clean-up that must not meet another replica's bootstrap)."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", lock_key)
        for statement in statements:
            await connection.execute(statement)
        if then is not None:
            await then(connection)


class PoolClosedError(asyncpg.InterfaceError):  # type: ignore[misc]  # asyncpg has no type stubs
    pass


class ConnectionPool:
    """``size`` connections to ``url``, opened up front (a burst never waits for a connect)."""

    def __init__(self, url: str, size: int, init: Init, server_settings: Mapping[str, str]) -> None:
        self._url = url
        self._init = init
        self._settings = dict(server_settings)
        self._idle: collections.deque[asyncpg.Connection | None] = collections.deque([None] * size)
        """Places to lend: a connection, or None where one is to be opened on use."""
        self._waiters: collections.deque[asyncio.Future[asyncpg.Connection | None]] = collections.deque()
        self._lent: set[asyncpg.Connection] = set()
        self._closed = False

    @classmethod
    async def open(
        cls, url: str, *, size: int, init: Init, server_settings: Mapping[str, str]
    ) -> ConnectionPool:
        pool = cls(url, size, init, server_settings)
        connections = await asyncio.gather(*(pool._connect() for _ in range(size)))
        pool._idle = collections.deque(connections)
        return pool

    async def _connect(self) -> asyncpg.Connection:
        connection: asyncpg.Connection = await asyncpg.connect(self._url, server_settings=self._settings)
        try:
            await self._init(connection)
        except BaseException:
            connection.terminate()
            raise
        return connection

    async def _take(self) -> asyncpg.Connection:
        if self._closed:
            raise PoolClosedError("the connection pool is closed")
        if self._idle and not self._waiters:
            place = self._idle.pop()
        else:
            waiter: asyncio.Future[asyncpg.Connection | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                place = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._put(waiter.result())  # handed over just as we were cancelled: pass it on
                else:
                    with contextlib.suppress(ValueError):
                        self._waiters.remove(waiter)
                raise
        if place is None or place.is_closed():
            try:
                place = await self._connect()
            except BaseException:
                self._put(None)
                raise
        self._lent.add(place)
        return place

    def _put(self, place: asyncpg.Connection | None) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(place)
                return
        if self._closed and place is not None:
            place.terminate()
            return
        self._idle.append(place)

    async def _give_back(self, connection: asyncpg.Connection, failed: BaseException | None) -> None:
        self._lent.discard(connection)
        if failed is not None and not isinstance(failed, asyncpg.PostgresError):
            # Cancelled mid-statement, or the socket/protocol failed: the connection's state is unknown.
            connection.terminate()
            self._put(None)
            return
        if connection.is_in_transaction():
            try:
                await connection.execute("ROLLBACK")
            except BaseException:
                connection.terminate()
                self._put(None)
                raise
        self._put(connection)

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        connection = await self._take()
        try:
            yield connection
        except BaseException as error:
            await self._give_back(connection, error)
            raise
        await self._give_back(connection, None)

    async def _run(self, call: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
        connection = await self._take()
        try:
            result = await call(connection)
        except BaseException as error:
            await self._give_back(connection, error)
            raise
        await self._give_back(connection, None)
        return result

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._run(lambda connection: connection.fetch(query, *args))
        return rows

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._run(lambda connection: connection.fetchrow(query, *args))
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._run(lambda connection: connection.fetchval(query, *args))

    async def execute(self, query: str, *args: Any) -> str:
        status: str = await self._run(lambda connection: connection.execute(query, *args))
        return status

    async def close(self) -> None:
        """Close the idle connections now, and each lent one as it comes back; waiters get an error."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(PoolClosedError("the connection pool is closed"))
        idle = [place for place in self._idle if place is not None]
        self._idle.clear()
        for connection in idle:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=5)
            if not connection.is_closed():
                connection.terminate()
