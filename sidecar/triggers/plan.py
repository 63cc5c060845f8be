"""Pure schedule decisions: which fires a schedule owes at a given instant.

The scheduler remembers, per schedule, ``last_slot``: every cron slot at or before it has been handled
(fired or deliberately skipped). A slot is never handled twice, so a machine waking from sleep, a clock
jumping forward or back, or a restart (``last_slot`` starts at the persisted ``lastFiredAt``) cannot fire
a slot twice. Slots that come due while the process watches are *on time* if noticed within
``GRACE_SECONDS``; older ones are *missed* and follow the misfire policy:

- ``skip``: missed slots are dropped;
- ``run-once-on-start``: one fire for the whole missed batch (none if an on-time fire happens anyway);
- ``catch-up``: every missed slot within the window fires, oldest first, at most ``MAX_CATCH_UP``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sidecar.triggers.model import MisfirePolicy

GRACE_SECONDS = 15.0
MAX_CATCH_UP = 100

NextFire = Callable[[float], float]
"""The first slot strictly after an instant."""


@dataclass(frozen=True)
class Fire:
    slot: float
    """The cron slot this fire stands for (epoch seconds)."""
    catch_up: bool
    """Fired for a missed slot rather than on time."""


@dataclass(frozen=True)
class MisfireConfig:
    policy: MisfirePolicy = MisfirePolicy.SKIP
    window_seconds: float = 0.0
    """Catch-up window (``catch-up`` only)."""
    grace_seconds: float = GRACE_SECONDS


@dataclass(frozen=True)
class FirePlan:
    fires: tuple[Fire, ...]
    last_slot: float
    next_due: float


def plan_fires(next_fire: NextFire, last_slot: float, now: float, misfire: MisfireConfig) -> FirePlan:
    """The fires owed at ``now`` given that every slot up to ``last_slot`` is handled."""
    first = next_fire(last_slot)
    if first > now:
        return FirePlan((), last_slot, first)
    on_time = _latest_in(next_fire, max(last_slot, now - misfire.grace_seconds), now)
    missed_before = on_time if on_time is not None else now + 1.0
    fires: list[Fire] = []
    if first < missed_before:
        fires.extend(_missed(next_fire, first, last_slot, now, missed_before, misfire, on_time is not None))
    if on_time is not None:
        fires.append(Fire(on_time, catch_up=False))
    return FirePlan(tuple(fires), max(last_slot, now), next_fire(max(last_slot, now)))


def _missed(
    next_fire: NextFire,
    first: float,
    last_slot: float,
    now: float,
    before: float,
    misfire: MisfireConfig,
    on_time_fires: bool,
) -> list[Fire]:
    if misfire.policy is MisfirePolicy.RUN_ONCE_ON_START:
        return [] if on_time_fires else [Fire(first, catch_up=True)]
    if misfire.policy is MisfirePolicy.CATCH_UP:
        start = max(last_slot, now - misfire.window_seconds)
        slots = _slots_in(next_fire, start, now)
        return [Fire(slot, catch_up=True) for slot in slots if slot < before][-MAX_CATCH_UP:]
    return []


def _latest_in(next_fire: NextFire, start: float, end: float) -> float | None:
    slots = _slots_in(next_fire, start, end)
    return slots[-1] if slots else None


def _slots_in(next_fire: NextFire, start: float, end: float) -> list[float]:
    """Slots in ``(start, end]``, keeping only the latest ``MAX_CATCH_UP`` of a long run."""
    slots: list[float] = []
    slot = next_fire(start)
    while slot <= end:
        slots.append(slot)
        if len(slots) > 2 * MAX_CATCH_UP:
            del slots[:MAX_CATCH_UP]
        slot = next_fire(slot)
    return slots
