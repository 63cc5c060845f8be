"""Kill -9 during a burst of runs: the file is intact and unfinished runs come back as interrupted."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from sidecar.history import ExecutionHistory
from tests.conftest import PROJECT_ROOT
from tests.history.burst_child import HANGING_RUNS


def _counts(path: Path) -> tuple[int, int]:
    """(running, finished) rows as another process sees them; (0, 0) before the tables exist."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as db:
            running, finished = db.execute(
                "SELECT coalesce(sum(status = 'running'), 0), coalesce(sum(status != 'running'), 0) "
                "FROM workflow_executions"
            ).fetchone()
            return int(running), int(finished)
    except sqlite3.Error:
        return 0, 0


async def _wait_for_burst(path: Path, child: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        running, finished = _counts(path)
        if running >= HANGING_RUNS and finished >= 500:
            return
        assert child.returncode is None, "the burst child exited early"
        await asyncio.sleep(0.05)
    pytest.fail("the burst never reached its running and finished counts")


@pytest.mark.slow
async def test_kill_9_mid_burst_leaves_an_intact_file_with_interrupted_runs(tmp_path: Path) -> None:
    path = tmp_path / "executions.sqlite"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.history.burst_child",
        str(tmp_path),
        cwd=PROJECT_ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await _wait_for_burst(path, child)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        with contextlib.suppress(ProcessLookupError):  # already gone: killed above, or exited early
            child.kill()
        await child.wait()
    running_at_kill, finished_at_kill = _counts(path)
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        running_ids = {
            row[0] for row in db.execute("SELECT id FROM workflow_executions WHERE status = 'running'")
        }

    history = await ExecutionHistory.open(tmp_path, backend_id="crash", backend_name="Crash", bus=None)
    try:
        interrupted = (await history.list_executions({"status": "error", "limit": 1000}))["executions"]
        still_running = (await history.list_executions({"status": "running"}))["executions"]
        after = {i: await history.get_execution(i) for i in running_ids}
    finally:
        await history.close()

    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert still_running == []
    flagged = [row for row in interrupted if row["metadata"].get("interrupted")]
    # Every run the file held as running is now interrupted, or finished as it answered (its final row
    # came from the journal); runs started too recently to be committed at all come back interrupted too.
    assert running_at_kill >= HANGING_RUNS
    assert len(flagged) >= HANGING_RUNS
    for row in after.values():
        assert row is not None
        assert row["metadata"].get("interrupted") or row["metadata"].get("recovered")
        assert row["status"] != "running"
    assert all(row["completedAt"] >= row["startedAt"] for row in flagged)
    assert finished_at_kill >= 500
