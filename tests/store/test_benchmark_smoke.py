"""The store benchmark runs in quick mode and reports every figure the issue asks for."""

from __future__ import annotations

import importlib.util
from typing import Any

from tests.conftest import PROJECT_ROOT


def load_benchmark() -> Any:
    """Loaded from its path, as ``scripts/benchmarks/harness.py`` does (``scripts`` is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "store_benchmark", PROJECT_ROOT / "scripts/benchmarks/store.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_benchmark_reports_throughput_and_latency_figures() -> None:
    figures: dict[str, Any] = load_benchmark().run(quick=True)
    for rate in ("single_creates_per_s", "concurrent_creates_per_s", "batched_rows_per_s"):
        assert isinstance(figures[rate], int)
        assert figures[rate] > 0
    for latency in ("indexed_equality", "indexed_range_50_rows", "full_scan_equality"):
        assert 0 < figures[latency]["p50_ms"] <= figures[latency]["p99_ms"]
    steady = figures["steady_single_client_creates"]
    assert steady["creates"] == 2_000
    assert 0 < steady["p50_ms"] <= steady["p99_ms"] <= steady["p999_ms"] <= steady["max_ms"]
    assert 0 <= steady["over_5ms"] <= steady["creates"]
    assert steady["wal_mb"] > 0
