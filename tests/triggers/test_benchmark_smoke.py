"""The trigger benchmark runs in quick mode and reports the figures the issue asks for."""

from __future__ import annotations

from typing import Any

from scripts.benchmarks import triggers as triggers_benchmark


def test_quick_benchmark_reports_idle_cpu_and_webhook_rates() -> None:
    figures: dict[str, Any] = triggers_benchmark.run(quick=True)
    idle = figures["idle_schedules"]
    assert idle["schedules"] == 1000
    assert idle["fires"] == 0
    assert 0 <= idle["cpu_percent_of_core"] < 100
    trivial = figures["webhook_trivial_target"]
    assert trivial["clients"] == 20
    assert trivial["failed"] == 0
    assert trivial["calls_per_s"] > 0
    with_history = figures["webhook_runtime_with_history"]
    if "skipped" not in with_history:
        assert with_history["failed"] == 0
        assert with_history["executions_recorded"] == with_history["requests"]
