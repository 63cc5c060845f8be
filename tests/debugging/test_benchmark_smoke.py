"""The history benchmark's ``execution:pin`` case runs and reports what issue 19 targets."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any


async def test_the_pin_case_pins_1000_steps_and_reports_p99(tmp_path: Path) -> None:
    # Imported by name: the suite puts its helper modules on sys.path itself, which mypy cannot follow.
    history_benchmark = importlib.import_module("scripts.benchmarks.history")
    figures: dict[str, Any] = await history_benchmark._pin_figures(tmp_path, 5)

    assert figures["steps"] == 1_000
    assert figures["answer_json_bytes"] > 0
    timing = figures["pin_1000_steps"]
    assert timing["target_p99_ms"] == 20
    assert 0 < timing["p50_ms"] <= timing["p99_ms"]
