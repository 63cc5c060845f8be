"""Schedules on several replicas of one backend sharing PostgreSQL: each fire runs exactly once whichever
replicas are alive, and a fire left unfinished by a dead replica is taken over once its lease expires."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from sidecar.store.postgres.fire_claims import PostgresFireClaims
from sidecar.triggers import SimulatedClock, TriggerService, TriggerServiceConfig
from sidecar.triggers.scheduler import ScheduledFire
from sidecar.triggers.service import TRIGGERS_FILE
from tests.postgres import new_schema_url
from tests.triggers.doubles import InProcessFunctions, MemoryHistory, echo
from tests.triggers.test_service import schedule_def

START = datetime(2026, 5, 4, 12, 0, 30, tzinfo=UTC).timestamp()


@pytest.fixture
async def pool(pg_server: str) -> AsyncIterator[asyncpg.Pool]:
    opened = await asyncpg.create_pool(new_schema_url(pg_server), min_size=1, max_size=4)
    try:
        yield opened
    finally:
        await opened.close()


async def _claims(pool: asyncpg.Pool, lease: timedelta = timedelta(minutes=5)) -> PostgresFireClaims:
    claims = PostgresFireClaims(pool, lease=lease)
    await claims.prepare()
    return claims


def _replica(
    data_dir: Path,
    calls: InProcessFunctions,
    clock: SimulatedClock,
    claims: PostgresFireClaims,
    **extra: float,
) -> TriggerService:
    return TriggerService.open(
        TriggerServiceConfig(data_dir, "backend_test01", zone=UTC),
        recorder=MemoryHistory(),
        functions=calls,
        clock=clock,
        claims=claims,
        **extra,  # type: ignore[arg-type]
    )


async def test_three_replicas_run_every_fire_exactly_once(tmp_path: Path, pool: asyncpg.Pool) -> None:
    clock = SimulatedClock(START)
    calls = [InProcessFunctions({"onOrder": echo}) for _ in range(3)]
    first = _replica(tmp_path / "r0", calls[0], clock, await _claims(pool))
    await first.create_trigger(schedule_def("*/5 * * * *"))
    first.registry.flush()
    for n in (1, 2):  # the same definitions on every replica, as a deploy gives them
        (tmp_path / f"r{n}").mkdir()
        shutil.copy(tmp_path / "r0" / TRIGGERS_FILE, tmp_path / f"r{n}" / TRIGGERS_FILE)
    replicas = [first] + [_replica(tmp_path / f"r{n}", calls[n], clock, await _claims(pool)) for n in (1, 2)]
    for replica in replicas:
        await replica.start()
    for slot in range(1, 31):
        await clock.advance_to(START + slot * 300)
        await asyncio.sleep(0.03)  # the claims are real round trips to the server
    await asyncio.sleep(0.3)
    for replica in replicas:
        await replica.close()
    fired = [call.payload["firedAt"] for replica_calls in calls for call in replica_calls.calls]
    assert len(fired) == 30
    assert len(set(fired)) == 30
    assert sum(1 for replica_calls in calls if replica_calls.calls) >= 1


async def test_a_fire_left_unfinished_by_a_dead_replica_is_taken_over_once(
    tmp_path: Path, pool: asyncpg.Pool
) -> None:
    clock = SimulatedClock(START)
    calls = InProcessFunctions({"onOrder": echo})
    dead = await _claims(pool, lease=timedelta(milliseconds=200))
    alive = _replica(tmp_path, calls, clock, await _claims(pool), recovery_interval=0.1)
    trigger_id = (await alive.create_trigger(schedule_def("0 0 1 1 *")))["trigger"]["id"]
    assert await dead.claim(trigger_id, START)  # claimed, then the replica died before finishing
    assert not await (await _claims(pool)).claim(trigger_id, START)  # the lease still holds
    await alive.start()
    for _ in range(50):
        if calls.calls:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # later recovery passes find nothing more to run
    await alive.close()
    assert len(calls.calls) == 1
    assert not await dead.claim(trigger_id, START)  # done: nobody runs it again


async def test_a_fire_running_longer_than_its_lease_is_not_taken_over_from_a_live_replica(
    tmp_path: Path, pool: asyncpg.Pool
) -> None:
    clock = SimulatedClock(START)
    release = asyncio.Event()

    async def slow(call: Any) -> tuple[int, str]:
        await release.wait()  # runs for several leases
        return await echo(call)

    calls = [InProcessFunctions({"onOrder": slow}) for _ in range(2)]
    lease = timedelta(milliseconds=300)
    running = _replica(tmp_path / "r0", calls[0], clock, await _claims(pool, lease), recovery_interval=0.1)
    trigger_id = (await running.create_trigger(schedule_def("0 0 1 1 *")))["trigger"]["id"]
    running.registry.flush()
    (tmp_path / "r1").mkdir()
    shutil.copy(tmp_path / "r0" / TRIGGERS_FILE, tmp_path / "r1" / TRIGGERS_FILE)
    watching = _replica(tmp_path / "r1", calls[1], clock, await _claims(pool, lease), recovery_interval=0.1)
    await running.start()
    await watching.start()
    fire = asyncio.create_task(running.on_fire(ScheduledFire(trigger_id, START, False, START)))
    await asyncio.sleep(1.5)  # five leases; the watching replica's recovery looks every 0.1 s
    release.set()
    await fire
    await asyncio.sleep(0.3)
    await running.close()
    await watching.close()
    assert (len(calls[0].calls), len(calls[1].calls)) == (1, 0)
