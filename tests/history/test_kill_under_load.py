"""Issue 15, reproduction 9: kill -9 of a real ``noodl-sidecar serve`` under HTTP load, then a restart on
the same data directory: no acknowledged record and no answered run is missing (the load, kill and checks
are ``scripts/benchmarks/_kill_load.py``; the ``crash`` bench suite runs the 20-cycle figure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.benchmarks._kill_load import kill_cycles


@pytest.mark.slow
async def test_kill_9_under_load_loses_no_acknowledged_record_and_no_answered_run(tmp_path: Path) -> None:
    figures = await kill_cycles(tmp_path / "crash_bench", cycles=3, clients=8, seconds=1.5)

    assert figures["cycles"] == 3
    assert figures["records_acknowledged"] > 100  # the load really ran before each kill
    assert figures["runs_answered"] > 100
    assert figures["records_lost"] == 0
    assert figures["runs_missing"] == 0
    # Answered runs come back with the status they answered with, never as interrupted.
    assert figures["runs_interrupted"] == 0
