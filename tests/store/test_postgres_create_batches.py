"""Group commit of PostgreSQL creates (``sidecar.store.postgres.create_batches``) against a stand-in
connection pool that holds each statement until the test lets it end: who waits, what goes together, and
what each create is answered when a statement fails."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from sidecar.store import ChangeAction, ChangeEvent
from sidecar.store.postgres.create_batches import CreateBatches, PendingCreate, row


class HeldPool:
    """Runs no SQL: records each statement's ids and ends it when the test says, with a result or error."""

    def __init__(self) -> None:
        self.sent: list[list[str]] = []
        self._ends: list[asyncio.Future[None]] = []

    async def execute(self, statement: str, *args: Any) -> str:
        self.sent.append(list(args[1]))
        end: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._ends.append(end)
        await end
        return "SELECT 1"

    def end(self, index: int, error: BaseException | None = None) -> None:
        if error is None:
            self._ends[index].set_result(None)
        else:
            self._ends[index].set_exception(error)

    def acquire(self) -> Any:
        raise NotImplementedError

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        raise NotImplementedError

    async def fetchrow(self, query: str, *args: Any) -> Any:
        raise NotImplementedError

    async def fetchval(self, query: str, *args: Any) -> Any:
        raise NotImplementedError


def pending(object_id: str) -> PendingCreate:
    record = {"objectId": object_id}
    event = ChangeEvent(ChangeAction.CREATE, "Item", object_id, record)
    parameters = ("Item", object_id, "2026-01-01T00:00:00.000Z", record, None, None, None)
    return PendingCreate(row(parameters), [event], b"{}")


async def settle(pool: HeldPool, count: int) -> None:
    for _ in range(100):
        if len(pool.sent) >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{count} statements expected, {pool.sent} sent")


@pytest.fixture
def pool() -> HeldPool:
    return HeldPool()


def batches(pool: HeldPool, published: list[str]) -> CreateBatches:
    def committed(events: list[ChangeEvent]) -> None:
        published.extend(event.object_id for event in events)

    return CreateBatches(pool, "origin", lambda events, first: None, committed, limit=2)


async def test_creates_arriving_while_two_are_in_flight_go_together_in_arrival_order(pool: HeldPool) -> None:
    published: list[str] = []
    group = batches(pool, published)
    writes = [asyncio.create_task(group.write(pending(f"id{n}"))) for n in range(6)]
    await settle(pool, 2)
    assert pool.sent == [["id0"], ["id1"]]  # the first two alone, at once; the others wait in line
    pool.end(0)
    await settle(pool, 3)
    assert pool.sent[2] == ["id2", "id3", "id4", "id5"]
    assert [write.done() for write in writes] == [True, False, False, False, False, False]
    pool.end(2)
    pool.end(1)
    await asyncio.gather(*writes)
    assert published == ["id0", "id2", "id3", "id4", "id5", "id1"]  # in commit order


async def test_a_create_whose_request_is_cancelled_in_line_is_never_written(pool: HeldPool) -> None:
    group = batches(pool, [])
    writes = [asyncio.create_task(group.write(pending(f"id{n}"))) for n in range(4)]
    await settle(pool, 2)
    writes[2].cancel()
    pool.end(0)
    await settle(pool, 3)
    assert pool.sent[2] == ["id3"]
    pool.end(1)
    pool.end(2)
    results = await asyncio.gather(*writes, return_exceptions=True)
    assert isinstance(results[2], asyncio.CancelledError)


async def test_a_group_postgresql_refuses_is_sent_again_one_create_at_a_time(pool: HeldPool) -> None:
    published: list[str] = []
    group = batches(pool, published)
    writes = [asyncio.create_task(group.write(pending(f"id{n}"))) for n in range(5)]
    await settle(pool, 2)
    pool.end(0)
    pool.end(1)
    await settle(pool, 3)
    assert pool.sent[2] == ["id2", "id3", "id4"]
    pool.end(2, asyncpg.UniqueViolationError("duplicate key"))
    await settle(pool, 4)
    pool.end(3)
    await settle(pool, 5)
    pool.end(4, asyncpg.UniqueViolationError("duplicate key"))
    await settle(pool, 6)
    pool.end(5)
    results = await asyncio.gather(*writes, return_exceptions=True)
    assert pool.sent[3:] == [["id2"], ["id3"], ["id4"]]
    assert [type(result).__name__ for result in results] == [
        "NoneType",
        "NoneType",
        "NoneType",
        "UniqueViolationError",
        "NoneType",
    ]
    assert published == ["id0", "id1", "id2", "id4"]


async def test_a_group_lost_with_its_connection_is_not_sent_again(pool: HeldPool) -> None:
    group = batches(pool, [])
    writes = [asyncio.create_task(group.write(pending(f"id{n}"))) for n in range(4)]
    await settle(pool, 2)
    pool.end(0)
    await settle(pool, 3)
    pool.end(2, ConnectionResetError("the server went away"))  # committed or not: unknown
    pool.end(1)
    results = await asyncio.gather(*writes, return_exceptions=True)
    assert [type(result).__name__ for result in results] == [
        "NoneType",
        "NoneType",
        "ConnectionResetError",
        "ConnectionResetError",
    ]
    assert len(pool.sent) == 3


async def test_a_group_stopped_by_the_statement_timeout_is_not_sent_again(pool: HeldPool) -> None:
    group = batches(pool, [])
    writes = [asyncio.create_task(group.write(pending(f"id{n}"))) for n in range(4)]
    await settle(pool, 2)
    pool.end(0)
    pool.end(1)
    await settle(pool, 3)
    pool.end(2, asyncpg.QueryCanceledError("canceling statement due to statement timeout"))
    results = await asyncio.gather(*writes, return_exceptions=True)
    assert [type(result).__name__ for result in results[2:]] == ["QueryCanceledError"] * 2
    assert len(pool.sent) == 3
