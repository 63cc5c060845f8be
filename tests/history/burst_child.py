"""Child process for the crash test: records a burst of runs into ``<data_dir>`` until it is killed.

Twenty runs hang (their Function node throws, so no Response ever comes) and stay ``running``; fast runs
keep the writer committing batches. Run as ``python -m tests.history.burst_child <data_dir>``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from sidecar.history import ExecutionHistory
from sidecar.runtime import Runtime, make_request
from tests.history.graphs import condition_then_function

HANGING_RUNS = 20


async def burst(data_dir: Path) -> None:
    history = await ExecutionHistory.open(data_dir, backend_id="crash", backend_name="Crash", bus=None)
    fast = Runtime.from_export(condition_then_function())
    hanging = Runtime.from_export(condition_then_function("throw new Error('stuck')"), timeout_seconds=3600)
    hanging_runs = [
        asyncio.ensure_future(
            hanging.run("greet", make_request({"flag": True}), recorder=history.recorder_for())
        )
        for _ in range(HANGING_RUNS)
    ]
    while hanging_runs:  # the hanging runs never finish: loop until killed
        batch = [
            fast.run(
                "greet", make_request({"flag": i % 2 == 0, "name": f"n{i}"}), recorder=history.recorder_for()
            )
            for i in range(50)
        ]
        await asyncio.gather(*batch)
        await asyncio.sleep(0)


if __name__ == "__main__":
    asyncio.run(burst(Path(sys.argv[1])))
