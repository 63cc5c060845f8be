"""Kill -9 under load (issue 15, reproduction 9): 20 cycles of load, SIGKILL and restart of a real
``noodl-sidecar serve`` backend (quick: 3); reports acknowledged records lost, answered runs missing
from the history, answered runs found only as interrupted, the runs the restarts restored from the
runs journal and the runs they marked interrupted. The mechanics are in ``_kill_load``."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the "_" helper modules beside the suites
from _kill_load import BACKEND_ID, kill_cycles


def run(quick: bool) -> dict[str, Any]:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        figures = asyncio.run(
            kill_cycles(Path(scratch) / BACKEND_ID, cycles=3 if quick else 20, clients=12, seconds=2.0)
        )
    if not quick:
        del figures["per_cycle"]  # the totals are the figures; per-cycle detail only for short runs
    figures["seconds"] = round(time.perf_counter() - started, 1)
    return figures
