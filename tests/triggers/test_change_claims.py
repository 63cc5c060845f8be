"""Database-change triggers on several replicas sharing PostgreSQL: each committed change's fire is claimed
in the change's own transaction, so it runs exactly once whichever replica made it, even when that replica
dies before firing; a rolled-back write claims nothing."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from sidecar.errors import ObjectNotFoundError
from sidecar.store import BatchMethod, BatchOp, CallerContext
from sidecar.store.postgres.change_claims import TABLE, PostgresChangeClaims
from sidecar.store.postgres.store import PostgresRecordStore
from sidecar.triggers import TriggerService, TriggerServiceConfig
from sidecar.triggers.service import TRIGGERS_FILE
from sidecar.triggers.store_source import StoreChangeSource
from tests.postgres import new_schema_url
from tests.triggers.doubles import Gate, InProcessFunctions, MemoryHistory, echo

MASTER = CallerContext.master()
LEASE = timedelta(seconds=1)


@dataclass
class Replica:
    store: PostgresRecordStore
    service: TriggerService
    calls: InProcessFunctions


@pytest.fixture
async def open_replica(
    tmp_path: Path, pg_server: str
) -> AsyncIterator[Callable[[str], asyncio.Future[Replica]]]:
    """Opens replicas of one backend on one database (the first one's triggers.json is everyone's)."""
    url = new_schema_url(pg_server)
    opened: list[Replica] = []

    async def open_one(name: str) -> Replica:
        data_dir = tmp_path / name
        data_dir.mkdir()
        if opened:
            shutil.copy(tmp_path / "r0" / TRIGGERS_FILE, data_dir / TRIGGERS_FILE)
        store = await PostgresRecordStore.open(url)
        claims = PostgresChangeClaims(store.pool, lease=LEASE)
        await claims.prepare()
        calls = InProcessFunctions({"onOrder": echo})
        service = TriggerService.open(
            TriggerServiceConfig(data_dir, "backend_test01"),
            recorder=MemoryHistory(),
            functions=calls,
            changes=StoreChangeSource(store),
            change_claims=claims,
            recovery_interval=0.2,
        )
        assert service.changes is not None
        store.claim_changes(claims, service.changes.triggers_for)
        replica = Replica(store, service, calls)
        opened.append(replica)
        return replica

    def start(name: str) -> asyncio.Future[Replica]:
        return asyncio.ensure_future(open_one(name))

    yield start
    for replica in opened:
        await replica.service.close()
        await replica.store.close()


async def _first_with_trigger(open_replica: Callable[[str], asyncio.Future[Replica]]) -> Replica:
    first = await open_replica("r0")
    await first.service.create_trigger(
        {
            "type": "db-change",
            "target": {"kind": "function", "name": "onOrder"},
            "dbChange": {"collection": "Order", "actions": ["create"]},
        }
    )
    first.service.registry.flush()
    return first


def _fired(replicas: list[Replica]) -> list[str]:
    return [call.payload["trigger"]["recordId"] for replica in replicas for call in replica.calls.calls]


async def _settled(replicas: list[Replica]) -> None:
    for replica in replicas:
        assert replica.service.changes is not None
        await replica.service.changes.drain()


async def test_changes_whose_replica_died_before_firing_are_fired_once_by_another(
    open_replica: Callable[[str], asyncio.Future[Replica]],
) -> None:
    dead = await _first_with_trigger(open_replica)  # commits the changes, and never fires (never started)
    others = [await open_replica("r1"), await open_replica("r2")]
    for replica in others:
        await replica.service.start()
    created = [(await dead.store.create("Order", {"n": n}, MASTER)).object_id for n in range(150)]
    deadline = time.monotonic() + 20
    while len(_fired(others)) < len(created) and time.monotonic() < deadline:  # noqa: ASYNC110 (polled)
        await asyncio.sleep(0.1)
    await asyncio.sleep(LEASE.total_seconds() * 2)  # long enough for a second taker-over, were there one
    await _settled(others)
    assert sorted(_fired(others)) == sorted(created)  # more than one recovery batch (100), each once
    assert dead.calls.calls == []
    rows = await dead.store.pool.fetch(f"SELECT done, claims FROM {TABLE}")
    assert {(row["done"], row["claims"]) for row in rows} == {(True, 2)}


async def test_a_fire_cut_short_by_its_replica_stopping_is_taken_over_once(
    open_replica: Callable[[str], asyncio.Future[Replica]],
) -> None:
    stopping = await _first_with_trigger(open_replica)
    gate = Gate()  # the fire runs until the replica stops
    stopping.calls.handlers["onOrder"] = gate
    other = await open_replica("r1")
    for replica in (stopping, other):
        await replica.service.start()
    created = await stopping.store.create("Order", {"total": 5}, MASTER)
    deadline = time.monotonic() + 15
    while not gate.started and time.monotonic() < deadline:  # noqa: ASYNC110 (a run in another task)
        await asyncio.sleep(0.05)
    await asyncio.sleep(LEASE.total_seconds() * 1.5)  # renewed while it runs: not taken over yet
    assert _fired([other]) == []
    await stopping.service.close()
    while not _fired([other]) and time.monotonic() < deadline:  # noqa: ASYNC110 (another replica polled)
        await asyncio.sleep(0.1)
    await asyncio.sleep(LEASE.total_seconds() * 2)
    await _settled([other])
    assert _fired([other]) == [created.object_id]


async def test_changes_on_three_replicas_each_fire_once_on_the_replica_that_made_them(
    open_replica: Callable[[str], asyncio.Future[Replica]],
) -> None:
    replicas = [await _first_with_trigger(open_replica), await open_replica("r1"), await open_replica("r2")]
    for replica in replicas:
        await replica.service.start()
    made: list[list[str]] = [[], [], []]
    for number in range(30):
        created = await replicas[number % 3].store.create("Order", {"n": number}, MASTER)
        made[number % 3].append(created.object_id)
        await _settled(replicas)  # the loop guard (maxChangeDepth 1) would suppress overlapping fires
    await asyncio.sleep(LEASE.total_seconds() * 2)  # no recovery pass may fire them again
    await _settled(replicas)
    for replica, ids in zip(replicas, made, strict=True):
        assert [call.payload["trigger"]["recordId"] for call in replica.calls.calls] == ids
    pending = await replicas[0].store.pool.fetchval(f"SELECT count(*) FROM {TABLE} WHERE NOT done")
    taken_over = await replicas[0].store.pool.fetchval(f"SELECT count(*) FROM {TABLE} WHERE claims > 1")
    assert (pending, taken_over) == (0, 0)


async def test_a_rolled_back_batch_and_classes_without_triggers_claim_nothing(
    open_replica: Callable[[str], asyncio.Future[Replica]],
) -> None:
    replicas = [await _first_with_trigger(open_replica), await open_replica("r1")]
    for replica in replicas:
        await replica.service.start()
    ops = [
        BatchOp(BatchMethod.CREATE, "Order", {"total": 1}),
        BatchOp(BatchMethod.SAVE, "Order", {"total": 2}, object_id="missing00"),
    ]
    with pytest.raises(ObjectNotFoundError):
        await replicas[0].store.batch(ops, MASTER, transaction=True)
    await replicas[0].store.create("Invoice", {"total": 1}, MASTER)
    await asyncio.sleep(LEASE.total_seconds() * 2)
    await _settled(replicas)
    assert _fired(replicas) == []
    assert await replicas[0].store.pool.fetchval(f"SELECT count(*) FROM {TABLE}") == 0
