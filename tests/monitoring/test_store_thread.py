"""The metrics file's connection is used by one thread at a time and closed only after its last job.

A flush cancelled while its merge runs (the backend stopping: ``MonitoringService.close`` cancels the
flush task, then flushes once more and closes the store) left the merge running in its thread. Before,
the store's asyncio lock was released at the cancel, so the last flush's merge and the close ran on
other threads over the same connection while the first merge still used it: Python's sqlite3 then
dereferences the closed connection and the process dies of SIGSEGV (``scripts/demo`` in CI, on
shutdown after its AI part). Run in a child process, since the failure kills the process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT_ROOT

ROUNDS = 40

SCRIPT = """
import asyncio, faulthandler, sqlite3, sys
from pathlib import Path

from sidecar.monitoring.aggregate import HOUR_MS, NodeCell, Pending, RunCell
from sidecar.monitoring.store import MetricsStore

faulthandler.enable()


def pending(count):
    cells = Pending()
    for i in range(count):
        hour = HOUR_MS * (i % 48)
        cells.runs[(hour, f"wf-{i}", "http")] = RunCell(1, 1, 0, 0, 5)
        cells.nodes[(hour, f"wf-{i}", "fn")] = NodeCell("JavaScriptFunction", 1, 0, 5)
    return cells


async def main(folder, rounds):
    totals = set()
    for round_ in range(rounds):
        path = folder / f"metrics-{round_}.sqlite"
        store = await MetricsStore.open(path)
        flushing = asyncio.ensure_future(store.merge(pending(600)))
        await asyncio.sleep(0.001 * (round_ % 8))  # the cancel lands at different points of the merge
        flushing.cancel()
        await store.merge(pending(50))  # the last flush of close(), then the close itself
        await store.close()
        with sqlite3.connect(path) as check:
            totals.add(check.execute("SELECT SUM(runs) FROM run_hours").fetchone()[0])
    print(sorted(totals))


asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
"""


def test_a_merge_cancelled_mid_way_then_a_flush_and_close_never_share_the_connection(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path), str(ROUNDS)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-4000:]}"
    # Each merge is one transaction: the cancelled one counts whole (it ran on) or not at all (it had
    # not started); the last flush always counts.
    totals = {int(total) for total in done.stdout.strip().strip("[]").split(",")}
    assert totals <= {50, 650}, totals
