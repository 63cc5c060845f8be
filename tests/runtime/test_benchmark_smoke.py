"""The runtime benchmark runs in quick mode and reports every figure the issue asks for."""

from __future__ import annotations

from scripts.benchmarks import runtime as runtime_benchmark


def test_quick_benchmark_reports_latency_and_concurrency_figures() -> None:
    figures = runtime_benchmark.run(quick=True)

    latency = figures["latency"]
    assert isinstance(latency, dict)
    assert set(latency) == {"echo", "expression", "function", "sum3", "runtasks"}
    assert all(0 < timing["p50_us"] <= timing["p99_us"] for timing in latency.values())
    assert all(timing["cpu_p50_us"] > 0 for timing in latency.values())  # CPU, comparable under load
    burst = figures["concurrent_1000"]
    assert isinstance(burst, dict)
    assert burst["echo"]["wall_ms"] > 0
    waiting = figures["in_flight_waiting"]
    assert isinstance(waiting, dict)
    assert waiting["peak_rss_mib"] > 0
