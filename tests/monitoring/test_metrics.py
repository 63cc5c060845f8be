"""Workflow metrics: counts and percentiles per hour, merged over hours, kept by their own retention,
and equal to a recount from the history they were built from."""

from __future__ import annotations

import json
import math
import random
import sqlite3
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sidecar.errors import InvalidMetricsQueryError, MonitoringConfigError
from sidecar.history import ExecutionHistory, HistoryConfig
from sidecar.history.retention import RetentionConfig
from sidecar.history.rows import ExecutionRow, StepRow, WriteBatch, new_execution_id, step_id
from sidecar.monitoring import Monitoring
from sidecar.monitoring.sketch import RELATIVE_ERROR, Histogram

HOUR = 3_600_000
DAY = 24 * HOUR
# An hour start half a day ago: recent enough that the background retention (90 days) keeps it.
T0 = (time.time_ns() // 1_000_000 - 12 * HOUR) // HOUR * HOUR
NO_RETENTION = HistoryConfig(retention=RetentionConfig(max_age_ms=None, interval_seconds=3600))


def exact_quantile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def close_to(estimate: float | None, exact: int) -> bool:
    assert estimate is not None
    return abs(estimate - exact) <= RELATIVE_ERROR * exact + 0.05


def run_rows(
    workflow: str,
    started_at: int,
    duration: int,
    status: str = "success",
    *,
    trigger: str = "webhook",
    timed_out: bool = False,
) -> tuple[ExecutionRow, ExecutionRow]:
    running = ExecutionRow(new_execution_id(started_at), workflow, workflow, trigger, "running", started_at)
    metadata = json.dumps({"timedOut": True}, separators=(",", ":")) if timed_out else "{}"
    final = running._replace(
        status=status, completed_at=started_at + duration, duration_ms=duration, metadata=metadata, last_seq=2
    )
    return running, final


def step(execution: ExecutionRow, index: int, node: str, duration: int, status: str = "success") -> StepRow:
    return StepRow(
        step_id(execution.id, index),
        execution.id,
        node,
        "JavaScriptFunction",
        index,
        execution.started_at + index,
        status,
        duration_ms=duration,
        completed_at=execution.started_at + duration,
    )


@pytest.fixture
async def monitoring(tmp_path: Path) -> AsyncIterator[Monitoring]:
    opened = await Monitoring.open(tmp_path, ephemeral=False, gauges=dict)
    yield opened
    await opened.close()


def batch(*rows: ExecutionRow | StepRow) -> WriteBatch:
    result = WriteBatch()
    for row in rows:
        (result.steps if isinstance(row, StepRow) else result.executions).append(row)  # type: ignore[arg-type]
    return result


async def test_counts_and_percentiles_per_hour_and_merged_across_the_hour_boundary(
    monitoring: Monitoring,
) -> None:
    # Hour 1: 90 fast runs (10 ms); hour 2: 10 slow ones (1,000 ms), 2 of them errors, 1 a timeout.
    for i in range(90):
        running, final = run_rows("orders", T0 + HOUR - 1 - i, 10)
        monitoring.observe(batch(running, final))
    for i in range(10):
        status = "error" if i < 2 else "success"
        running, final = run_rows("orders", T0 + HOUR + i, 1000, status, timed_out=i == 0)
        monitoring.observe(batch(running, final))
    hours = await monitoring.metrics({"from": T0, "to": T0 + 2 * HOUR}, now_ms=T0 + 2 * HOUR)
    first, second = hours["series"]
    assert (first["start"], first["runs"], first["errors"], first["p99Ms"]) == (
        T0,
        90,
        0,
        pytest.approx(10, 0.02),
    )
    assert second["start"] == T0 + HOUR
    assert (second["runs"], second["successes"], second["errors"], second["timeouts"]) == (10, 8, 2, 1)
    assert second["totalMs"] == 10_000
    assert second["avgMs"] == 1000
    # Over both hours the p95 is a slow run (rank 95 of 100), not an average of the hours' p95s.
    whole = await monitoring.metrics({"from": T0, "to": T0 + 2 * HOUR, "bucket": "all"}, now_ms=T0 + 2 * HOUR)
    (total,) = whole["series"]
    assert total["runs"] == 100
    assert total["errors"] == 2
    assert total["timeouts"] == 1
    assert total["p50Ms"] == pytest.approx(10, rel=0.02)
    assert total["p95Ms"] == pytest.approx(1000, rel=0.02)
    assert total["avgMs"] == pytest.approx((90 * 10 + 10 * 1000) / 100)
    assert whole["totals"]["runs"] == 100


async def test_per_node_errors_and_p95_and_filters(monitoring: Monitoring) -> None:
    for i in range(20):
        running, final = run_rows("orders", T0 + i, 50, trigger="schedule" if i % 2 else "webhook")
        # Steps arrive in a later batch than the run's start, as they do when the writer's batch turns.
        monitoring.observe(batch(running))
        monitoring.observe(
            batch(
                step(running, 0, "n-fetch", 5 + i),
                step(running, 1, "n-save", 30, "error" if i < 3 else "success"),
                final,
            )
        )
    running, final = run_rows("other", T0, 7)
    monitoring.observe(batch(running, final))
    answer = await monitoring.metrics({"from": T0, "to": T0 + HOUR, "workflowId": "orders"}, now_ms=T0 + HOUR)
    assert {(s["workflowId"], s["triggerType"], s["runs"]) for s in answer["series"]} == {
        ("orders", "schedule", 10),
        ("orders", "webhook", 10),
    }
    nodes = {node["nodeId"]: node for node in answer["nodes"]}
    assert nodes["n-save"]["errors"] == 3
    assert nodes["n-save"]["steps"] == 20
    assert close_to(nodes["n-fetch"]["p95Ms"], exact_quantile([5 + i for i in range(20)], 0.95))
    grouped = await monitoring.metrics({"from": T0, "to": T0 + HOUR, "groupBy": []}, now_ms=T0 + HOUR)
    assert [s["runs"] for s in grouped["series"]] == [21]
    only = await monitoring.metrics(
        {"from": T0, "to": T0 + HOUR, "triggerType": "schedule"}, now_ms=T0 + HOUR
    )
    assert only["totals"]["runs"] == 10


async def test_metrics_survive_a_restart_and_retention_drops_only_old_hours(tmp_path: Path) -> None:
    (tmp_path / "monitoring.json").write_text('{"retentionDays": 2}')
    first = await Monitoring.open(tmp_path, ephemeral=False, gauges=dict)
    for hour in (T0, T0 + DAY, T0 + 3 * DAY):
        running, final = run_rows("orders", hour, 20)
        first.observe(batch(running, final))
    await first.close()
    reopened = await Monitoring.open(tmp_path, ephemeral=False, gauges=dict)
    try:
        everything = {"from": T0, "to": T0 + 4 * DAY, "bucket": "day"}
        assert (await reopened.metrics(everything, now_ms=T0 + 4 * DAY))["totals"]["runs"] == 3
        # Two days before now is half-way through the hour at T0 + 1 day: that hour is kept whole.
        dropped = await reopened.apply_retention(now_ms=T0 + 3 * DAY + HOUR // 2)
        assert dropped == 1
        kept = await reopened.metrics(everything, now_ms=T0 + 4 * DAY)
        assert [s["start"] for s in kept["series"]] == [
            T0 + DAY - (T0 + DAY) % DAY,
            T0 + 3 * DAY - (T0 + 3 * DAY) % DAY,
        ]
        assert kept["retentionDays"] == 2
    finally:
        await reopened.close()


@pytest.mark.parametrize(
    "params",
    [
        {"from": 10, "to": 5},
        {"bucket": "week"},
        {"from": "yesterday"},
        {"groupBy": ["node"]},
        {"nodes": "yes"},
        {"workflowID": "typo"},
        {"workflowId": ""},
    ],
)
async def test_a_bad_query_is_refused_by_name(monitoring: Monitoring, params: dict[str, Any]) -> None:
    with pytest.raises(InvalidMetricsQueryError):
        await monitoring.metrics(params)


@pytest.mark.parametrize(
    "text", ['{"retentionDays": 0}', '{"scrapeToken": "short"}', '{"retention": 5}', "[1"]
)
async def test_an_invalid_monitoring_file_refuses_to_open(tmp_path: Path, text: str) -> None:
    (tmp_path / "monitoring.json").write_text(text)
    with pytest.raises(MonitoringConfigError):
        await Monitoring.open(tmp_path, ephemeral=False, gauges=dict)


def test_histograms_merge_to_the_histogram_of_all_values() -> None:
    rng = random.Random(7)
    values = [int(rng.lognormvariate(4, 1.5)) for _ in range(5000)]
    parts = [Histogram() for _ in range(5)]
    for index, value in enumerate(values):
        parts[index % 5].add(value)
    merged = Histogram.merged(parts)
    for q in (0.5, 0.95, 0.99):
        assert close_to(merged.quantile(q), exact_quantile(values, q))
    assert Histogram.from_text(merged.to_text()).counts == merged.counts


async def test_ten_thousand_mixed_runs_equal_a_recount_from_history(tmp_path: Path) -> None:
    """Through the real writer: what metrics hold is what a GROUP BY over executions.sqlite says."""
    history = await ExecutionHistory.open(
        tmp_path, backend_id="b1", backend_name="B", bus=None, config=NO_RETENTION
    )
    monitoring = await Monitoring.open(tmp_path, ephemeral=False, gauges=dict)
    assert history.writer is not None
    monitoring.attach(history.writer)
    rng = random.Random(22)
    try:
        for i in range(10_000):
            workflow = f"wf{rng.randrange(7)}"
            status = "error" if rng.random() < 0.1 else "success"
            started = T0 + rng.randrange(5 * HOUR)
            running, final = run_rows(
                workflow,
                started,
                int(rng.expovariate(1 / 80)),
                status,
                trigger=rng.choice(["webhook", "schedule", "db_change"]),
                timed_out=status == "error" and i % 3 == 0,
            )
            history.writer.submit_execution(running)
            history.writer.submit_step(step(running, 0, "node-a", rng.randrange(40), status))
            history.writer.submit_execution(final)
            if i % 500 == 0:
                await history.writer.flush()
        await history.writer.flush()
        answer = await monitoring.metrics(
            {"from": T0, "to": T0 + 5 * HOUR, "nodes": False}, now_ms=T0 + 6 * HOUR
        )
    finally:
        await history.close()
        await monitoring.close()
    recount: dict[tuple[int, str, str], list[Any]] = defaultdict(list)
    with sqlite3.connect(tmp_path / "executions.sqlite") as db:
        for started, workflow, trigger, status, duration, metadata in db.execute(
            "SELECT started_at, workflow_id, trigger_type, status, duration_ms, metadata"
            " FROM workflow_executions"
        ):
            recount[(started - started % HOUR, workflow, trigger)].append((status, duration, metadata))
    assert sum(len(rows) for rows in recount.values()) == 10_000
    got = {(s["start"], s["workflowId"], s["triggerType"]): s for s in answer["series"]}
    assert set(got) == set(recount)
    for key, rows in recount.items():
        series = got[key]
        durations = [duration for _, duration, _ in rows]
        assert series["runs"] == len(rows)
        assert series["errors"] == sum(status == "error" for status, _, _ in rows)
        assert series["timeouts"] == sum('"timedOut":true' in (metadata or "") for _, _, metadata in rows)
        assert series["totalMs"] == sum(durations)
        for name, q in (("p50Ms", 0.5), ("p95Ms", 0.95), ("p99Ms", 0.99)):
            assert close_to(series[name], exact_quantile(durations, q)), (key, name)


async def test_a_day_query_reads_whole_days_from_the_roll_ups_and_equals_the_hours(tmp_path: Path) -> None:
    opened = await Monitoring.open(tmp_path, ephemeral=False, gauges=dict)
    start = T0 - 3 * DAY
    try:
        for index in range(400):  # runs spread over four days, a few hours apart, merged in several flushes
            at = start + index * (4 * DAY // 400)
            running, final = run_rows(
                f"wf{index % 3}", at, 5 + index % 97, "error" if index % 7 == 0 else "success"
            )
            opened.observe(batch(running, final, step(running, 1, "n1", 3 + index % 11)))
            if index % 50 == 0:
                await opened.flush()
        # A range that starts and ends inside a day: partial days come from the hours.
        wanted = {"from": start + 5 * HOUR, "to": start + 3 * DAY + 7 * HOUR}
        by_day = await opened.metrics({**wanted, "bucket": "day"}, now_ms=T0 + DAY)
        by_hour = await opened.metrics({**wanted, "bucket": "hour"}, now_ms=T0 + DAY)
        whole = await opened.metrics({**wanted, "bucket": "all", "groupBy": []}, now_ms=T0 + DAY)
    finally:
        await opened.close()
    per_day: dict[tuple[int, str], list[int]] = {}
    for item in by_hour["series"]:
        counts = per_day.setdefault((item["start"] - item["start"] % DAY, item["workflowId"]), [0, 0])
        counts[0] += item["runs"]
        counts[1] += item["errors"]
    assert {(s["start"], s["workflowId"]): [s["runs"], s["errors"]] for s in by_day["series"]} == per_day
    assert by_day["totals"] == by_hour["totals"] == whole["totals"]
    assert by_day["nodes"] == by_hour["nodes"]
    assert whole["totals"]["runs"] > 200


async def test_a_file_without_day_roll_ups_gets_them_built_when_opened(tmp_path: Path) -> None:
    import sqlite3

    opened = await Monitoring.open(tmp_path, ephemeral=False, gauges=dict)
    for hour in range(30):
        running, final = run_rows("orders", T0 - 40 * HOUR + hour * HOUR, 10 + hour)
        opened.observe(batch(running, final))
    await opened.close()
    with sqlite3.connect(tmp_path / "metrics.sqlite") as connection:  # as a file of the previous version
        connection.executescript("DROP TABLE run_days; DROP TABLE node_days; PRAGMA user_version = 0;")
    connection.close()
    reopened = await Monitoring.open(tmp_path, ephemeral=False, gauges=dict)
    try:
        wanted = {"from": T0 - 3 * DAY, "to": T0 + DAY, "bucket": "all", "groupBy": []}
        answer = await reopened.metrics(wanted, now_ms=T0 + DAY)
    finally:
        await reopened.close()
    assert answer["totals"]["runs"] == 30
    assert close_to(answer["totals"]["p95Ms"], 10 + 28)
