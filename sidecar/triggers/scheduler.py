"""The async shell around :mod:`sidecar.triggers.plan`: one timer for the earliest due schedule.

Idle schedules cost nothing but a heap entry: a single task sleeps until the earliest due instant (in
slices, see :mod:`sidecar.triggers.clock`), asks the pure planner what is owed, and starts the fires.
Overlap policies apply per schedule while earlier fires still run:

- ``allow``: fires run concurrently;
- ``skip``: a fire due while one runs is dropped (reported to the listener);
- ``buffer-one``: the newest such fire waits and starts when the running one ends; older buffered ones
  are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Protocol

import structlog

from sidecar.errors import InvalidCronError
from sidecar.triggers.clock import Clock
from sidecar.triggers.cron import CronSpec, next_fire
from sidecar.triggers.model import OverlapPolicy
from sidecar.triggers.plan import Fire, MisfireConfig, plan_fires

log = structlog.get_logger()


@dataclass(frozen=True)
class ScheduledFire:
    trigger_id: str
    slot: float
    catch_up: bool
    fired_at: float


class ScheduleListener(Protocol):
    async def on_fire(self, fire: ScheduledFire) -> None:
        """Run the trigger's target; the scheduler tracks the task for its overlap policy."""
        ...

    def on_overlap_skip(self, trigger_id: str) -> None: ...

    def on_schedule_error(self, trigger_id: str, message: str) -> None:
        """The schedule cannot be armed any more (no fire within the horizon); it has been disarmed."""
        ...


@dataclass
class _Schedule:
    trigger_id: str
    spec: CronSpec
    misfire: MisfireConfig
    overlap: OverlapPolicy
    last_slot: float
    next_due: float
    generation: int
    running: int = 0
    buffered: Fire | None = None


@dataclass
class Scheduler:
    clock: Clock
    zone: tzinfo
    listener: ScheduleListener
    _schedules: dict[str, _Schedule] = field(default_factory=dict)
    _heap: list[tuple[float, int, str]] = field(default_factory=list)
    _generations: itertools.count[int] = field(default_factory=itertools.count)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _loop_task: asyncio.Task[None] | None = None
    _sleeper: asyncio.Future[None] | None = None
    _deadline: float | None = None

    def arm(
        self,
        trigger_id: str,
        spec: CronSpec,
        misfire: MisfireConfig,
        overlap: OverlapPolicy,
        handled_until: float | None = None,
    ) -> float:
        """(Re)arm a schedule; slots up to ``handled_until`` (default now) count as handled.

        Returns the next due instant; raises :class:`InvalidCronError` when there is none within the horizon.
        """
        now = self.clock.now()
        last_slot = now if handled_until is None else min(handled_until, now)
        due = next_fire(spec, last_slot, self.zone)
        schedule = self._schedules.get(trigger_id)
        if schedule is None:
            schedule = _Schedule(trigger_id, spec, misfire, overlap, last_slot, due, next(self._generations))
            self._schedules[trigger_id] = schedule
        else:  # keep the object: fires still running decrement its counter
            schedule.spec, schedule.misfire, schedule.overlap = spec, misfire, overlap
            schedule.last_slot, schedule.next_due = last_slot, due
            schedule.generation = next(self._generations)
        self._push(schedule)
        return due

    def disarm(self, trigger_id: str) -> None:
        self._schedules.pop(trigger_id, None)

    def next_due(self, trigger_id: str) -> float | None:
        schedule = self._schedules.get(trigger_id)
        return schedule.next_due if schedule is not None else None

    def due_times(self) -> dict[str, float]:
        """Every armed schedule's next fire (epoch seconds); a fire moves its entry on (alert rules read
        it to see a schedule that did not fire)."""
        return {trigger_id: schedule.next_due for trigger_id, schedule in self._schedules.items()}

    def start(self) -> None:
        if self._loop_task is None:
            self._loop_task = asyncio.get_running_loop().create_task(self._run(), name="trigger-scheduler")

    async def stop(self) -> None:
        """Stop timing and cancel fires still running (buffered fires are dropped)."""
        self._schedules.clear()
        tasks = [task for task in (self._loop_task, *self._tasks) if task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loop_task = None

    async def _run(self) -> None:
        while True:
            deadline = self._earliest()
            sleeper: asyncio.Future[None]
            if deadline is None:
                sleeper = asyncio.get_running_loop().create_future()  # woken by arm()
            else:
                sleeper = asyncio.ensure_future(self.clock.sleep_until(deadline))
            self._sleeper, self._deadline = sleeper, deadline
            try:
                await asyncio.wait({sleeper})
            finally:
                sleeper.cancel()
                self._sleeper = self._deadline = None
            self._process_due(self.clock.now())

    def _push(self, schedule: _Schedule) -> None:
        heapq.heappush(self._heap, (schedule.next_due, schedule.generation, schedule.trigger_id))
        sleeper = self._sleeper
        if sleeper is not None and (self._deadline is None or schedule.next_due < self._deadline):
            sleeper.cancel()

    def _earliest(self) -> float | None:
        while self._heap:
            due, generation, trigger_id = self._heap[0]
            schedule = self._schedules.get(trigger_id)
            if schedule is not None and schedule.generation == generation:
                return due
            heapq.heappop(self._heap)  # stale: re-armed or disarmed since
        return None

    def _process_due(self, now: float) -> None:
        while (due := self._earliest()) is not None and due <= now:
            _, _, trigger_id = heapq.heappop(self._heap)
            schedule = self._schedules[trigger_id]
            try:
                step = functools.partial(_next_slot, schedule.spec, self.zone)
                plan = plan_fires(step, schedule.last_slot, now, schedule.misfire)
            except InvalidCronError as error:
                self.disarm(trigger_id)
                self.listener.on_schedule_error(trigger_id, error.message)
                continue
            except Exception as error:  # one broken schedule must not stop the timer of all the others
                log.exception("schedule planning failed", trigger_id=trigger_id)
                self.disarm(trigger_id)
                self.listener.on_schedule_error(trigger_id, f"{type(error).__name__}: {error}")
                continue
            schedule.last_slot, schedule.next_due = plan.last_slot, plan.next_due
            schedule.generation = next(self._generations)
            heapq.heappush(self._heap, (schedule.next_due, schedule.generation, trigger_id))
            for fire in plan.fires:
                self._offer(schedule, fire)

    def _offer(self, schedule: _Schedule, fire: Fire) -> None:
        if schedule.running and schedule.overlap is OverlapPolicy.SKIP:
            self.listener.on_overlap_skip(schedule.trigger_id)
            return
        if schedule.running and schedule.overlap is OverlapPolicy.BUFFER_ONE:
            if schedule.buffered is not None:
                self.listener.on_overlap_skip(schedule.trigger_id)
            schedule.buffered = fire
            return
        self._launch(schedule, fire)

    def _launch(self, schedule: _Schedule, fire: Fire) -> None:
        schedule.running += 1
        event = ScheduledFire(schedule.trigger_id, fire.slot, fire.catch_up, self.clock.now())
        task = asyncio.get_running_loop().create_task(self._fire(schedule, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fire(self, schedule: _Schedule, event: ScheduledFire) -> None:
        try:
            await self.listener.on_fire(event)
        except Exception:
            log.exception("schedule fire failed", trigger_id=event.trigger_id)
        finally:
            schedule.running -= 1
            buffered, schedule.buffered = schedule.buffered, None
            if buffered is not None and self._schedules.get(schedule.trigger_id) is schedule:
                self._launch(schedule, buffered)


def _next_slot(spec: CronSpec, zone: tzinfo, after: float) -> float:
    return next_fire(spec, after, zone)
