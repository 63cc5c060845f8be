"""Workflow Retry: attempts with backoff until success, a give-up with the last error, retry filters."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.history import ExecutionHistory
from sidecar.runtime.nodes.workflow.retry import RetryPolicy, error_text
from tests.runtime.graphs import conn, node
from tests.workflow.graphs import error_steps, run_flow, run_recorded, steps_of

FAST = {"delayMs": 5, "backoffMultiplier": 2}


def flaky(retry: dict[str, Any], error: str = "HTTP 503") -> tuple[list[Any], list[Any]]:
    """Each attempt bumps a Counter; an IF fails the attempt while count < failUntil, with ``error``."""
    nodes = [
        node("retry", "Workflow Retry", retry),
        node("attempts", "Counter"),
        node("check", "Workflow IF", {"expression": "count < failUntil", "data": error}),
        node("ok", "String", {"value": "success"}),
        node("gave-up", "String", {"value": "failure"}),
    ]
    connections = [
        conn("req", "receive", "retry", "run"),
        conn("retry", "attempt", "attempts", "increase"),
        conn("attempts", "currentCount", "check", "count"),
        conn("req", "pm-failUntil", "check", "failUntil"),
        conn("retry", "attempt", "check", "run"),
        conn("check", "data", "retry", "error"),
        conn("check", "onTrue", "retry", "attemptFailed"),
        conn("check", "onFalse", "retry", "attemptSucceeded"),
        conn("retry", "success", "ok", "saveValue"),
        conn("retry", "failure", "gave-up", "saveValue"),
        conn("ok", "savedValue", "resp", "pm-outcome"),
        conn("gave-up", "savedValue", "resp", "pm-outcome"),
        conn("retry", "attemptNumber", "resp", "pm-attempts"),
        conn("retry", "lastError", "resp", "pm-lastError"),
        conn("retry", "success", "resp", "send"),
        conn("retry", "failure", "resp", "send"),
    ]
    return nodes, connections


async def test_retry_repeats_failed_attempts_until_one_succeeds() -> None:
    answer = await run_flow(*flaky({**FAST, "maxAttempts": 5}), {"failUntil": 3})

    assert answer.result == {"outcome": "success", "attempts": 3, "lastError": "HTTP 503"}


async def test_a_first_attempt_that_succeeds_needs_no_retry() -> None:
    answer = await run_flow(*flaky(FAST), {"failUntil": 0})

    assert (answer.result["outcome"], answer.result["attempts"]) == ("success", 1)


async def test_retry_gives_up_after_max_attempts_and_records_the_failure(history: ExecutionHistory) -> None:
    answer, stored = await run_recorded(history, *flaky({**FAST, "maxAttempts": 3}), {"failUntil": 99})

    assert answer.result == {"outcome": "failure", "attempts": 3, "lastError": "HTTP 503"}
    assert error_steps(stored) == [("retry", "gave up after 3 attempt(s): HTTP 503")]
    attempts = [s for s in steps_of(stored, "retry") if "attempt" in (s.get("outputData") or {})]
    assert [s["outputData"]["attemptNumber"] for s in attempts] == [1, 2, 3]
    run_indexes = [s["runIndex"] for s in steps_of(stored, "retry")]
    assert run_indexes == sorted(set(run_indexes))  # each attempt is a new step of the node


async def test_errors_that_do_not_match_retry_on_fail_at_once() -> None:
    retry = {**FAST, "maxAttempts": 5, "retryOn": "429|503"}

    not_retried = await run_flow(*flaky(retry, error="HTTP 400"), {"failUntil": 99})
    retried = await run_flow(*flaky(retry, error="HTTP 429"), {"failUntil": 2})

    assert (not_retried.result["outcome"], not_retried.result["attempts"]) == ("failure", 1)
    assert (retried.result["outcome"], retried.result["attempts"]) == ("success", 2)


def test_backoff_grows_by_the_multiplier_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=6, delay_ms=100, multiplier=3, max_delay_ms=1000)

    assert [policy.delay_before(attempt, 0.5) for attempt in range(2, 7)] == [100, 300, 900, 1000, 1000]


@pytest.mark.parametrize("draw", [0.0, 0.25, 0.5, 0.999])
def test_jitter_spreads_the_delay_within_its_fraction(draw: float) -> None:
    policy = RetryPolicy(delay_ms=1000, jitter=0.2)

    assert 800 <= policy.delay_before(2, draw) <= 1200
    assert RetryPolicy(delay_ms=1000).delay_before(2, draw) == 1000


def test_retry_filter_and_error_text() -> None:
    policy = RetryPolicy(max_attempts=3, retry_on="timeout|5\\d\\d")

    assert policy.should_retry(1, "HTTP 502")
    assert policy.should_retry(2, "socket timeout")
    assert not policy.should_retry(1, "HTTP 404")
    assert not policy.should_retry(3, "HTTP 502")  # attempts used up
    assert not RetryPolicy(retry_on="(").should_retry(1, "anything")  # a broken pattern never matches
    assert [error_text(e) for e in ({"message": "m"}, "text", None, 503)] == ["m", "text", "", "503"]


async def test_failures_without_an_error_value_are_retried_and_named_generically(
    history: ExecutionHistory,
) -> None:
    nodes = [node("retry", "Workflow Retry", {"maxAttempts": 2, "delayMs": 1})]
    connections = [
        conn("req", "receive", "retry", "run"),
        conn("retry", "attempt", "retry", "attemptFailed"),  # every attempt fails at once
        conn("retry", "attemptNumber", "resp", "pm-attempts"),
        conn("retry", "failure", "resp", "send"),
    ]

    answer, stored = await run_recorded(history, nodes, connections)

    assert answer.result == {"attempts": 2}
    assert error_steps(stored) == [("retry", "gave up after 2 attempt(s): attempt failed")]


async def test_inputs_left_unset_keep_their_defaults_so_the_backoff_waits() -> None:
    """``maxDelayMs`` unset is 30 s, not ``Number(null)`` = 0 (which made every retry immediate)."""
    import time

    started = time.perf_counter()
    answer = await run_flow(*flaky({"delayMs": 150, "maxAttempts": 2}), {"failUntil": 2})

    assert (answer.result["outcome"], answer.result["attempts"]) == ("success", 2)
    assert time.perf_counter() - started >= 0.14
