"""Injectable wall clocks: the real one, a simulated one that tests advance by hand, and a scaled one.

The scaled clock (``NOODL_TRIGGER_CLOCK=scaled:<origin>:<factor>``, read by :func:`clock_from_env`) runs
``factor`` times faster than wall time from the instant ``origin``. Every process given the same setting
reads the same time, so a drill can run a day of per-second schedules on several replicas of one backend
in minutes; it is for drills and tests, never for a backend users depend on.

The scheduler reads wall time (cron is wall-clock based) but never trusts one long sleep: a machine that
sleeps or a clock that jumps would leave it waiting on the wrong instant, so real sleeps are cut into
slices of at most ``MAX_SLEEP_SECONDS`` and the scheduler re-reads the time after each.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import time
from collections.abc import Mapping
from typing import Protocol

MAX_SLEEP_SECONDS = 30.0
CLOCK_SETTING = "NOODL_TRIGGER_CLOCK"
_SETTLE_YIELDS = 50


class Clock(Protocol):
    def now(self) -> float:
        """Wall time, epoch seconds."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return at ``deadline`` or earlier (callers re-check :meth:`now`)."""
        ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        await asyncio.sleep(min(max(deadline - time.time(), 0.0), MAX_SLEEP_SECONDS))


class ScaledClock:
    """Wall time running ``factor`` times as fast from the instant ``origin`` (epoch seconds)."""

    def __init__(self, origin: float, factor: float) -> None:
        if factor <= 0:
            raise ValueError("the factor of a scaled clock must be positive")
        self._origin = origin
        self._factor = factor

    def now(self) -> float:
        return self._origin + (time.time() - self._origin) * self._factor

    async def sleep_until(self, deadline: float) -> None:
        real = (deadline - self.now()) / self._factor
        await asyncio.sleep(min(max(real, 0.0), MAX_SLEEP_SECONDS))


def clock_from_env(environ: Mapping[str, str] = os.environ) -> Clock | None:
    """The clock ``NOODL_TRIGGER_CLOCK`` asks for (``scaled:<origin>:<factor>``), None when unset.
    Raises ``ValueError`` naming the setting when it is malformed (the backend then refuses to start)."""
    value = environ.get(CLOCK_SETTING, "")
    if not value:
        return None
    kind, _, rest = value.partition(":")
    origin, _, factor = rest.partition(":")
    try:
        if kind != "scaled":
            raise ValueError(kind)
        return ScaledClock(float(origin), float(factor))
    except ValueError as error:
        message = f"{CLOCK_SETTING} must be scaled:<origin epoch seconds>:<factor>, not {value!r}"
        raise ValueError(message) from error


class SimulatedClock:
    """Time moves only when a test calls :meth:`advance_to` (stepwise) or :meth:`jump_to` (at once)."""

    def __init__(self, start: float) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._order), future))
        await future

    async def advance_to(self, instant: float) -> None:
        """Move time forward, stopping at every sleeper's deadline so each wakes exactly on time."""
        await settle()  # let tasks started before this call reach their sleep
        while self._sleepers and self._sleepers[0][0] <= instant:
            self._now = max(self._now, self._sleepers[0][0])
            await self._wake_due()
        self._now = max(self._now, instant)
        await settle()

    async def jump_to(self, instant: float) -> None:
        """Set the time at once (forward or backward), as a suspended machine or an NTP step does."""
        await settle()
        self._now = instant
        await self._wake_due()

    async def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
        await settle()


async def settle() -> None:
    """Let woken tasks run until they block again (a bounded number of loop turns)."""
    for _ in range(_SETTLE_YIELDS):
        await asyncio.sleep(0)
