"""Child process for the journal test: answers runs whose rows the writer never commits, then waits.

The writer lingers for an hour, so every run is still queued when the parent kills this process:
the answered runs, and one run that never answers (its Function throws, so no Response comes). Only
the runs journal can bring them back. Run as
``python -m tests.history.answer_child <data_dir> <runs>``; prints one line, ``answered <n>``, once the
runs have answered (other lines may be log output), then sleeps until killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from sidecar.history import ExecutionHistory, HistoryConfig
from sidecar.runtime import Runtime, make_request
from tests.history.graphs import condition_then_function

NEVER_COMMITS = HistoryConfig(write_linger_seconds=3600)


async def answer(data_dir: Path, runs: int) -> None:
    history = await ExecutionHistory.open(
        data_dir, backend_id="journal", backend_name="Journal", bus=None, config=NEVER_COMMITS
    )
    script = "throw new Error('broken ' + Inputs.name)"
    runtime = Runtime.from_export(condition_then_function(script), timeout_seconds=0.05)
    hanging = Runtime.from_export(condition_then_function(script), timeout_seconds=3600)
    never_answers = asyncio.ensure_future(
        hanging.run("greet", make_request({"flag": True, "name": "hanging"}), recorder=history.recorder_for())
    )
    for i in range(runs):
        # Even calls reach the throwing Function and answer 504 at the time limit; odd ones answer 200.
        body = {"flag": i % 2 == 0, "name": f"run-{i}"}
        await runtime.run("greet", make_request(body), recorder=history.recorder_for())
    sys.stdout.write(f"answered {runs}\n")
    sys.stdout.flush()
    await asyncio.wait_for(never_answers, 3600)


if __name__ == "__main__":
    asyncio.run(answer(Path(sys.argv[1]), int(sys.argv[2])))
