"""Workflow Wait, Wait Until and Debounce: timers that park a run without a thread."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sidecar.history import ExecutionHistory
from sidecar.runtime.nodes.workflow.timing import target_epoch_ms, wait_ms
from tests.runtime.graphs import conn, node
from tests.workflow.graphs import error_steps, run_flow, run_recorded, steps_of


def wait_graph(parameters: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    return (
        [node("wait", "Workflow Wait", parameters)],
        [
            conn("req", "receive", "wait", "run"),
            conn("req", "pm-order", "wait", "data"),
            conn("wait", "data", "resp", "pm-order"),
            conn("wait", "done", "resp", "send"),
        ],
    )


async def test_wait_fires_done_after_its_duration_with_the_data_it_was_given(
    history: ExecutionHistory,
) -> None:
    started = time.perf_counter()
    answer, stored = await run_recorded(history, *wait_graph({"duration": 0.05, "unit": "s"}), {"order": 3})
    elapsed = time.perf_counter() - started

    assert answer.result == {"order": 3}
    assert elapsed >= 0.05
    started_step, fired_step = steps_of(stored, "wait")
    assert (started_step["runIndex"], fired_step["runIndex"]) == (0, 1)
    assert fired_step["inputData"] == {"waitedMs": 50.0}
    assert fired_step["outputData"]["done"] is True


@pytest.mark.parametrize(
    ("duration", "unit", "expected"),
    [
        (250, "ms", 250),
        (1.5, "s", 1500),
        (2, "min", 120_000),
        (1, "h", 3_600_000),
        ("x", "s", 0),
        (-5, "ms", 0),
    ],
)
def test_wait_durations_convert_units_and_never_go_negative(
    duration: Any, unit: str, expected: float
) -> None:
    assert wait_ms(duration, unit) == expected


async def test_a_run_that_settles_cancels_its_waits() -> None:
    nodes, connections = wait_graph({"duration": 10, "unit": "s"})

    started = time.perf_counter()
    answer = await run_flow(nodes, connections, timeout_seconds=0.1)

    assert answer.status == 504
    assert time.perf_counter() - started < 1


def wait_until_graph(target: Any, port: str = "targetTime") -> tuple[list[Any], list[Any]]:
    flags = [node("done", "String", {"value": "done"}), node("skipped", "String", {"value": "skipped"})]
    return (
        [node("until", "Workflow Wait Until", {port: target}), *flags],
        [
            conn("req", "receive", "until", "run"),
            conn("until", "done", "done", "saveValue"),
            conn("until", "skipped", "skipped", "saveValue"),
            conn("done", "stored", "resp", "send"),
            conn("skipped", "stored", "resp", "send"),
            conn("done", "savedValue", "resp", "pm-how"),
            conn("skipped", "savedValue", "resp", "pm-how"),
        ],
    )


async def test_wait_until_a_future_time_fires_done_and_a_past_time_fires_skipped() -> None:
    soon = (datetime.now(UTC) + timedelta(milliseconds=40)).isoformat()
    past = "2020-01-01T00:00:00Z"

    future_answer = await run_flow(*wait_until_graph(soon))
    past_answer = await run_flow(*wait_until_graph(past))
    past_date = await run_flow(*wait_until_graph(past, port="targetDate"))

    assert future_answer.result == {"how": "done"}
    assert past_answer.result == past_date.result == {"how": "skipped"}


def test_wait_until_reads_iso_text_epoch_milliseconds_and_datetimes() -> None:
    moment = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    expected = moment.timestamp() * 1000

    assert target_epoch_ms("2030-05-01T12:00:00Z") == expected
    assert target_epoch_ms("2030-05-01T14:00:00+02:00") == expected
    assert target_epoch_ms("2030-05-01T12:00:00") == expected  # no offset: UTC
    assert target_epoch_ms(expected) == expected
    assert target_epoch_ms(moment) == expected
    assert [target_epoch_ms(v) for v in ("", "tomorrow", None, True)] == [None] * 4


async def test_wait_until_without_a_readable_date_is_an_error_step(history: ExecutionHistory) -> None:
    _, stored = await run_recorded(history, *wait_until_graph("next tuesday"), timeout_seconds=0.1)

    assert error_steps(stored) == [("until", "Wait Until: not a date: next tuesday")]


async def test_debounce_fires_once_after_the_last_of_a_burst() -> None:
    nodes = [
        node("split", "Workflow Split", {"branchCount": 3}),
        node("debounce", "Workflow Debounce", {"delay": 20}),
        node("fired", "Counter"),
        node("later", "Workflow Wait", {"duration": 80}),
    ]
    connections = [
        conn("req", "receive", "split", "run"),
        *[conn("split", f"branch_{i}", "debounce", "run") for i in range(3)],
        conn("req", "pm-x", "debounce", "data"),
        conn("debounce", "trigger", "fired", "increase"),
        conn("req", "receive", "later", "run"),
        conn("fired", "currentCount", "resp", "pm-fired"),
        conn("debounce", "data", "resp", "pm-data"),
        conn("later", "done", "resp", "send"),
    ]

    answer = await run_flow(nodes, connections, {"x": "last"})

    assert answer.result == {"fired": 1, "data": "last"}


async def test_debounce_that_never_runs_never_fires() -> None:
    nodes = [
        node("debounce", "Workflow Debounce", {"delay": 1}),
        node("later", "Workflow Wait", {"duration": 20}),
    ]
    connections = [
        conn("debounce", "trigger", "resp", "send"),
        conn("req", "receive", "later", "run"),
        conn("later", "done", "resp", "pm-late"),
        conn("later", "done", "resp", "send"),
    ]

    answer = await run_flow(nodes, connections)

    assert answer.result == {"late": True}
