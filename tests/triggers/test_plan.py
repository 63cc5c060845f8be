"""Pure schedule decisions: on-time fires, misfire policies, and never handling a slot twice."""

from __future__ import annotations

import pytest

from sidecar.triggers.model import MisfirePolicy
from sidecar.triggers.plan import Fire, MisfireConfig, plan_fires


def every_minute(after: float) -> float:
    return (after // 60 + 1) * 60


MINUTE = 60.0
T0 = 1_000_020 * MINUTE  # a slot


def test_nothing_is_owed_before_the_next_slot() -> None:
    plan = plan_fires(every_minute, T0, T0 + 59, MisfireConfig())
    assert plan.fires == ()
    assert plan.next_due == T0 + MINUTE
    assert plan.last_slot == T0


def test_a_slot_noticed_within_the_grace_fires_on_time() -> None:
    plan = plan_fires(every_minute, T0, T0 + MINUTE + 0.004, MisfireConfig())
    assert plan.fires == (Fire(T0 + MINUTE, catch_up=False),)
    assert plan.next_due == T0 + 2 * MINUTE


def test_skip_drops_missed_slots_after_a_jump() -> None:
    plan = plan_fires(every_minute, T0, T0 + 10 * MINUTE + 30, MisfireConfig(MisfirePolicy.SKIP))
    assert plan.fires == ()
    assert plan.next_due == T0 + 11 * MINUTE


def test_run_once_fires_a_single_catch_up_for_the_missed_batch() -> None:
    plan = plan_fires(every_minute, T0, T0 + 10 * MINUTE + 30, MisfireConfig(MisfirePolicy.RUN_ONCE_ON_START))
    assert plan.fires == (Fire(T0 + MINUTE, catch_up=True),)


def test_run_once_adds_nothing_when_a_slot_is_on_time_anyway() -> None:
    plan = plan_fires(every_minute, T0, T0 + 10 * MINUTE + 1, MisfireConfig(MisfirePolicy.RUN_ONCE_ON_START))
    assert plan.fires == (Fire(T0 + 10 * MINUTE, catch_up=False),)


def test_catch_up_fires_each_missed_slot_within_the_window_oldest_first() -> None:
    config = MisfireConfig(MisfirePolicy.CATCH_UP, window_seconds=3 * MINUTE + 30)
    plan = plan_fires(every_minute, T0, T0 + 10 * MINUTE + 30, config)
    assert plan.fires == tuple(Fire(T0 + n * MINUTE, catch_up=True) for n in (8, 9, 10))


def test_catch_up_includes_the_on_time_slot_once() -> None:
    config = MisfireConfig(MisfirePolicy.CATCH_UP, window_seconds=2 * MINUTE + 30)
    plan = plan_fires(every_minute, T0, T0 + 10 * MINUTE + 1, config)
    assert plan.fires == (
        Fire(T0 + 8 * MINUTE, catch_up=True),
        Fire(T0 + 9 * MINUTE, catch_up=True),
        Fire(T0 + 10 * MINUTE, catch_up=False),
    )


@pytest.mark.parametrize("policy", list(MisfirePolicy))
def test_replanning_at_the_same_instant_owes_nothing(policy: MisfirePolicy) -> None:
    config = MisfireConfig(policy, window_seconds=10 * MINUTE)
    first = plan_fires(every_minute, T0, T0 + 5 * MINUTE + 1, config)
    again = plan_fires(every_minute, first.last_slot, T0 + 5 * MINUTE + 1, config)
    assert first.fires
    assert again.fires == ()


def test_a_clock_that_went_back_owes_nothing_until_past_the_last_handled_slot() -> None:
    plan = plan_fires(every_minute, T0 + 10 * MINUTE, T0 + 2 * MINUTE, MisfireConfig())
    assert plan.fires == ()
    assert plan.next_due == T0 + 11 * MINUTE
