"""Acknowledged writes survive SIGKILL at random points, and the database stays intact."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sidecar.store import CallerContext, QueryOptions, SqliteRecordStore
from tests.conftest import PROJECT_ROOT

RUNS = 50


def run_and_kill(db: Path, first: int, rng: random.Random) -> set[int]:
    """Start a writer child, SIGKILL it after a random delay; return the values it reported as written."""
    with subprocess.Popen(
        [sys.executable, "-m", "tests.store.durability_child", str(db), str(first)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as child:
        assert child.stdout is not None
        first_line = child.stdout.readline()  # the child is writing; now pick a random moment to kill it
        time.sleep(rng.uniform(0.0, 0.25))
        os.kill(child.pid, signal.SIGKILL)
        rest = child.stdout.read()
    return {int(line) for line in (first_line + rest).split()}


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "durable.db"
    rng = random.Random(20261125)
    acknowledged: set[int] = set()
    for run in range(RUNS):
        acknowledged |= run_and_kill(db, run * 1_000_000, rng)
        connection = sqlite3.connect(db)
        try:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            present = {int(row[0]) for row in connection.execute('SELECT "n" FROM "Item"')}
        finally:
            connection.close()
        missing = acknowledged - present
        assert not missing, f"run {run}: {len(missing)} acknowledged writes lost"
    store = await SqliteRecordStore.open(db)  # and the store itself reopens on what is left
    try:
        count = await store.count("Item", {}, CallerContext.master())
        assert count >= len(acknowledged) > RUNS
        assert (
            await store.query("Item", QueryOptions(where={"n": min(acknowledged)}), CallerContext.master())
        ).results
    finally:
        await store.close()
