"""The scheduler in simulated time (and once in real time): exact firing, misfire and overlap policies."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sidecar.triggers import SimulatedClock, SystemClock, parse_cron
from sidecar.triggers.clock import Clock, settle
from sidecar.triggers.model import MisfirePolicy, OverlapPolicy
from sidecar.triggers.plan import MisfireConfig
from sidecar.triggers.scheduler import ScheduledFire, Scheduler

STOCKHOLM = ZoneInfo("Europe/Stockholm")
MINUTE = 60.0


@dataclass
class Recorder:
    """A schedule listener that keeps every fire with the clock time it started at."""

    clock: Clock
    body: Callable[[], Awaitable[None]] | None = None
    fires: list[ScheduledFire] = field(default_factory=list)
    started_at: list[float] = field(default_factory=list)
    finished: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    async def on_fire(self, fire: ScheduledFire) -> None:
        self.fires.append(fire)
        self.started_at.append(self.clock.now())
        if self.body is not None:
            await self.body()
        self.finished += 1

    def on_overlap_skip(self, trigger_id: str) -> None:
        self.skipped += 1

    def on_schedule_error(self, trigger_id: str, message: str) -> None:
        self.errors.append(message)


def stockholm(year: int, month: int, day: int, hour: int, minute: int) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM).timestamp()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(stockholm(2026, 3, 26, 0, 0))


@pytest.fixture
async def recorder(clock: SimulatedClock) -> Recorder:
    return Recorder(clock)


@pytest.fixture
async def scheduler(clock: SimulatedClock, recorder: Recorder) -> AsyncIterator[Scheduler]:
    running = Scheduler(clock, STOCKHOLM, recorder)
    running.start()
    yield running
    await running.stop()


def arm(
    scheduler: Scheduler,
    cron: str,
    *,
    misfire: MisfirePolicy = MisfirePolicy.SKIP,
    window: float = 0.0,
    overlap: OverlapPolicy = OverlapPolicy.ALLOW,
    handled_until: float | None = None,
) -> float:
    return scheduler.arm("trg_test", parse_cron(cron), MisfireConfig(misfire, window), overlap, handled_until)


async def test_every_minute_for_a_simulated_week_across_dst_fires_exactly_once_per_minute(
    clock: SimulatedClock, recorder: Recorder, scheduler: Scheduler
) -> None:
    start = clock.now()  # Thursday before the spring-forward night of 2026-03-29
    arm(scheduler, "* * * * *")
    await clock.advance_to(start + 7 * 86_400)
    expected = [start + MINUTE * n for n in range(1, 7 * 1440 + 1)]
    assert [fire.slot for fire in recorder.fires] == expected
    assert recorder.started_at == expected  # each on its due instant, none early, none late
    assert not any(fire.catch_up for fire in recorder.fires)


async def test_the_repeated_autumn_hour_fires_once_per_real_minute() -> None:
    clock = SimulatedClock(stockholm(2026, 10, 25, 1, 0))
    recorder = Recorder(clock)
    scheduler = Scheduler(clock, STOCKHOLM, recorder)
    scheduler.start()
    arm(scheduler, "* * * * *")
    await clock.advance_to(clock.now() + 3 * 3600)
    await scheduler.stop()
    slots = [fire.slot for fire in recorder.fires]
    assert len(slots) == 180
    assert all(later - earlier == MINUTE for earlier, later in itertools.pairwise(slots))


async def test_a_jump_forward_with_skip_drops_the_missed_slots(
    clock: SimulatedClock, recorder: Recorder, scheduler: Scheduler
) -> None:
    start = clock.now()
    arm(scheduler, "*/10 * * * *", misfire=MisfirePolicy.SKIP)
    await clock.jump_to(start + 3600 + 30)  # the machine slept for an hour
    assert recorder.fires == []
    assert scheduler.next_due("trg_test") == start + 3600 + 600


async def test_a_jump_forward_with_run_once_fires_once(
    clock: SimulatedClock, recorder: Recorder, scheduler: Scheduler
) -> None:
    start = clock.now()
    arm(scheduler, "*/10 * * * *", misfire=MisfirePolicy.RUN_ONCE_ON_START)
    await clock.jump_to(start + 3600 + 30)
    assert [fire.catch_up for fire in recorder.fires] == [True]
    await clock.advance_to(start + 3600 + 600)
    assert [fire.catch_up for fire in recorder.fires] == [True, False]


async def test_a_jump_forward_with_catch_up_fires_the_slots_inside_the_window(
    clock: SimulatedClock, recorder: Recorder, scheduler: Scheduler
) -> None:
    start = clock.now()
    arm(scheduler, "*/10 * * * *", misfire=MisfirePolicy.CATCH_UP, window=25 * MINUTE)
    await clock.jump_to(start + 3600 + 30)
    assert [fire.slot - start for fire in recorder.fires] == [2400.0, 3000.0, 3600.0]


async def test_a_jump_back_never_fires_a_slot_twice(
    clock: SimulatedClock, recorder: Recorder, scheduler: Scheduler
) -> None:
    start = clock.now()
    arm(scheduler, "* * * * *")
    await clock.advance_to(start + 5 * MINUTE)
    await clock.jump_to(start + 2 * MINUTE)  # NTP steps the clock back three minutes
    await clock.advance_to(start + 8 * MINUTE)
    slots = [fire.slot - start for fire in recorder.fires]
    assert slots == [MINUTE * n for n in range(1, 9)]


async def test_restart_with_run_once_catches_up_from_the_last_fire(
    clock: SimulatedClock, recorder: Recorder, scheduler: Scheduler
) -> None:
    start = clock.now()
    arm(scheduler, "30 * * * *", misfire=MisfirePolicy.RUN_ONCE_ON_START, handled_until=start - 5 * 3600)
    await settle()
    assert [fire.catch_up for fire in recorder.fires] == [True]


class Held:
    """A fire body that blocks until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self) -> None:
        await self.release.wait()


@pytest.mark.parametrize(
    ("overlap", "started_while_held", "started_after_release", "skipped"),
    [
        (OverlapPolicy.ALLOW, 4, 4, 0),
        (OverlapPolicy.SKIP, 1, 1, 3),
        (OverlapPolicy.BUFFER_ONE, 1, 2, 2),
    ],
)
async def test_overlap_policies_while_a_fire_is_still_running(
    clock: SimulatedClock,
    overlap: OverlapPolicy,
    started_while_held: int,
    started_after_release: int,
    skipped: int,
) -> None:
    held = Held()
    recorder = Recorder(clock, body=held)
    scheduler = Scheduler(clock, STOCKHOLM, recorder)
    scheduler.start()
    start = clock.now()
    arm(scheduler, "* * * * *", overlap=overlap)
    await clock.advance_to(start + 4 * MINUTE)
    assert len(recorder.fires) == started_while_held
    held.release.set()
    await settle()
    assert len(recorder.fires) == started_after_release
    assert recorder.finished == started_after_release
    assert recorder.skipped == skipped
    await scheduler.stop()


async def test_rearming_moves_the_timer_and_disarming_stops_it(
    clock: SimulatedClock, recorder: Recorder, scheduler: Scheduler
) -> None:
    start = clock.now()
    arm(scheduler, "0 0 1 1 *")
    assert arm(scheduler, "*/5 * * * *") == start + 5 * MINUTE
    await clock.advance_to(start + 5 * MINUTE)
    scheduler.disarm("trg_test")
    await clock.advance_to(start + 30 * MINUTE)
    assert [fire.slot - start for fire in recorder.fires] == [5 * MINUTE]


async def test_a_seconds_schedule_fires_within_50_ms_of_due_in_real_time() -> None:
    clock = SystemClock()
    recorder = Recorder(clock)
    scheduler = Scheduler(clock, STOCKHOLM, recorder)
    scheduler.start()
    arm(scheduler, "* * * * * *")
    try:
        await asyncio.sleep(3.2)  # three whole seconds of fires, whatever the sub-second phase
    finally:
        await scheduler.stop()
    assert len(recorder.fires) >= 3
    lateness = [
        started - fire.slot for fire, started in zip(recorder.fires, recorder.started_at, strict=True)
    ]
    assert all(0 <= late < 0.050 for late in lateness), lateness


async def test_rearming_while_a_fire_runs_keeps_its_overlap_policy(clock: SimulatedClock) -> None:
    held = Held()
    recorder = Recorder(clock, body=held)
    scheduler = Scheduler(clock, STOCKHOLM, recorder)
    scheduler.start()
    start = clock.now()
    arm(scheduler, "* * * * *", overlap=OverlapPolicy.SKIP)
    await clock.advance_to(start + MINUTE)
    arm(scheduler, "*/2 * * * *", overlap=OverlapPolicy.SKIP)  # an edit while the first fire still runs
    await clock.advance_to(start + 2 * MINUTE)
    assert len(recorder.fires) == 1
    assert recorder.skipped == 1
    held.release.set()
    await scheduler.stop()
