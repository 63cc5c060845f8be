"""The workflow benchmark runs in quick mode and reports the figures issue 9 asks for."""

from __future__ import annotations

from typing import Any

from scripts.benchmarks import workflow as workflow_benchmark


def test_quick_benchmark_reports_for_each_and_parked_wait_figures() -> None:
    figures = workflow_benchmark.run(quick=True)

    for_each: Any = figures["for_each"]
    assert [run["concurrency"] for run in for_each] == [1, 100]
    assert all(run["items"] == 500 and run["seconds"] > 0 for run in for_each)
    parked: Any = figures["parked_waits"]
    assert parked["runs"] == 500
    assert parked["rss_mib"] > 0
    assert parked["cpu_percent_while_waiting"] >= 0
    assert parked["total_seconds"] >= parked["wait_ms"] / 1000
