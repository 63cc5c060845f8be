"""The store benchmark runs in quick mode and reports every figure the issue asks for."""

from __future__ import annotations

from scripts.benchmarks import store as store_benchmark


def test_quick_benchmark_reports_throughput_and_latency_figures() -> None:
    figures = store_benchmark.run(quick=True)
    for rate in ("single_creates_per_s", "concurrent_creates_per_s", "batched_rows_per_s"):
        value = figures[rate]
        assert isinstance(value, int)
        assert value > 0
    for latency in ("indexed_equality", "indexed_range_50_rows", "full_scan_equality"):
        timing = figures[latency]
        assert isinstance(timing, dict)
        assert 0 < timing["p50_ms"] <= timing["p99_ms"]
