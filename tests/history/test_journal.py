"""Runs survive a kill of the process: the journal holds what the writer had not committed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import stat
import sys
from pathlib import Path

from sidecar.history import ExecutionHistory, HistoryConfig, SqliteHistoryStore
from sidecar.history.journal import FILE_NAMES, SEGMENT_BYTES, UNWRITTEN_NAME, RunJournal, read_journal
from sidecar.history.rows import WriteBatch
from sidecar.runtime import Runtime, make_request
from tests.conftest import PROJECT_ROOT
from tests.history.conftest import NO_RETENTION, execution, seed
from tests.history.graphs import condition_then_function

RUNS = 10


async def _answer_then_get_killed(data_dir: Path) -> None:
    """A child answers RUNS runs and starts one that never answers, with a writer that never commits
    them, and is killed with SIGKILL."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.history.answer_child",
        str(data_dir),
        str(RUNS),
        cwd=PROJECT_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert child.stdout is not None
        line = b""
        while not line.startswith(b"answered"):  # log lines may come first
            line = await asyncio.wait_for(child.stdout.readline(), 30)
            assert line, "the child exited before its runs answered"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()


async def _open(data_dir: Path) -> ExecutionHistory:
    return await ExecutionHistory.open(
        data_dir, backend_id="journal", backend_name="Journal", bus=None, config=NO_RETENTION
    )


async def test_runs_the_writer_never_committed_come_back_after_a_kill(tmp_path: Path) -> None:
    await _answer_then_get_killed(tmp_path)
    assert len(read_journal(tmp_path)) == RUNS + 1  # what the dead process left

    history = await _open(tmp_path)
    try:
        rows = (await history.list_executions({"limit": 100}))["executions"]
        assert history.recording["recoveredAtStart"] == RUNS + 1
        assert history.recording["interruptedAtStart"] == 1
    finally:
        await history.close()

    assert all(row["metadata"]["recovered"] is True for row in rows)
    by_name = {row["triggerData"]["body"]["name"]: row for row in rows}
    assert set(by_name) == {"hanging", *(f"run-{i}" for i in range(RUNS))}
    # The run that never answered was cut by the kill: an interrupted error, as the contract has it.
    cut = by_name.pop("hanging")
    assert (cut["status"], cut["metadata"]["interrupted"]) == ("error", True)
    assert cut["errorMessage"].startswith("Interrupted")
    answered_ok = by_name["run-1"]  # the final row as it was answered, not a guess
    assert (answered_ok["status"], answered_ok["workflowId"]) == ("success", "greet")
    assert answered_ok["completedAt"] >= answered_ok["startedAt"]
    timed_out = by_name["run-0"]
    assert timed_out["status"] == "error"
    assert timed_out["errorMessage"].startswith("HTTP 504")
    assert timed_out["metadata"]["timedOut"] is True
    assert not any(row["metadata"].get("interrupted") for row in by_name.values())

    # Restored once: the journal was emptied after its rows reached the file, and a clean close removes it.
    assert not any((tmp_path / name).exists() for name in (*FILE_NAMES, UNWRITTEN_NAME))
    again = await _open(tmp_path)
    try:
        assert again.recording["recoveredAtStart"] == 0
        assert len((await again.list_executions({"limit": 100}))["executions"]) == RUNS + 1
        searched = await again.list_executions({"search": "504"})
        assert {row["id"] for row in searched["executions"]} == {
            row["id"] for row in by_name.values() if row["status"] == "error"
        }
    finally:
        await again.close()


async def test_a_batch_that_failed_to_commit_is_restored_at_the_next_start(tmp_path: Path) -> None:
    history = await _open(tmp_path)
    assert history.writer is not None
    store = history.writer._store
    real_write = store.write
    failures = [OSError("disk I/O error")]

    async def fails_once(batch: WriteBatch) -> None:
        if failures:
            raise failures.pop()
        await real_write(batch)

    store.write = fails_once  # type: ignore[method-assign]
    runtime = Runtime.from_export(condition_then_function())
    response = await runtime.run(
        "greet", make_request({"flag": True, "name": "Ada"}), recorder=history.recorder_for()
    )
    assert response.status_code == 200
    await history.writer.flush()
    assert history.recording["droppedRows"] > 0
    assert (await history.list_executions({}))["executions"] == []
    await history.close()
    assert (tmp_path / UNWRITTEN_NAME).is_file()

    reopened = await _open(tmp_path)
    try:
        rows = (await reopened.list_executions({}))["executions"]
    finally:
        await reopened.close()
    assert [(row["status"], row["metadata"]["recovered"]) for row in rows] == [("success", True)]
    assert not (tmp_path / UNWRITTEN_NAME).exists()


async def test_a_clean_run_and_close_leave_no_journal_and_nothing_to_restore(tmp_path: Path) -> None:
    history = await _open(tmp_path)
    # Request bodies (scrubbed) are in the journal as in the database: readable by the owner only.
    assert [stat.S_IMODE((tmp_path / name).stat().st_mode) for name in FILE_NAMES] == [0o600, 0o600]
    runtime = Runtime.from_export(condition_then_function())
    for i in range(5):
        await runtime.run(
            "greet", make_request({"flag": True, "name": f"n{i}"}), recorder=history.recorder_for()
        )
    assert history.writer is not None
    await history.writer.flush()
    # Committed batches leave nothing behind in the journal, even before the close.
    assert read_journal(tmp_path) == []
    await history.close()
    assert not any((tmp_path / name).exists() for name in (*FILE_NAMES, UNWRITTEN_NAME))

    reopened = await _open(tmp_path)
    try:
        rows = (await reopened.list_executions({}))["executions"]
        assert reopened.recording["recoveredAtStart"] == 0
    finally:
        await reopened.close()
    assert len(rows) == 5
    assert not any("recovered" in row["metadata"] for row in rows)


async def test_recovery_finishes_running_rows_and_leaves_finished_ones(store: SqliteHistoryStore) -> None:
    await seed(store, execution("exec_done", status="error", error_message="HTTP 500"))
    await seed(store, execution("exec_running", status="running"))
    journal = [
        execution("exec_done", status="success"),  # stored finished already: the file wins
        execution("exec_done", status="running"),
        execution("exec_running", status="success"),
        execution("exec_lost", status="success"),
        execution("exec_started", status="running"),  # added as running; the open marks it interrupted
    ]
    assert await store.recover_journaled(journal) == 3
    started = await store.get_execution("exec_started")
    assert started is not None
    assert started.status == "running"

    done = await store.get_execution("exec_done")
    assert done is not None
    assert (done.status, json.loads(done.metadata or "{}").get("recovered")) == ("error", None)
    for execution_id in ("exec_running", "exec_lost"):
        row = await store.get_execution(execution_id)
        assert row is not None
        assert row.status == "success"
        assert json.loads(row.metadata or "{}") == {"backendId": "backend_test", "recovered": True}


async def test_journal_turned_off_writes_no_files(tmp_path: Path) -> None:
    history = await ExecutionHistory.open(
        tmp_path, backend_id="b", backend_name="B", bus=None, config=HistoryConfig(journal=False)
    )
    try:
        assert history.recording["journal"] is False
        assert not any((tmp_path / name).exists() for name in FILE_NAMES)
    finally:
        await history.close()


def test_a_batch_larger_than_the_journal_file_grows_it_and_keeps_every_line(tmp_path: Path) -> None:
    journal = RunJournal.open(tmp_path)
    big_request = json.dumps({"headers": {}, "body": {"text": "x" * 2000}})
    rows = [execution(f"exec_{i}", status="success")._replace(trigger_data=big_request) for i in range(1000)]
    for row in rows:  # ~2 MB: more than the 1 MiB the file starts with, and no batch taken meanwhile
        journal.append(row)
    try:
        assert (tmp_path / FILE_NAMES[0]).stat().st_size > SEGMENT_BYTES
        assert read_journal(tmp_path) == rows
        journal.release(journal.switch())
        assert read_journal(tmp_path) == []
    finally:
        journal.close(remove=True)


def test_a_runs_final_row_wins_over_its_start_whichever_file_holds_them(tmp_path: Path) -> None:
    journal = RunJournal.open(tmp_path)
    try:
        journal.switch()  # the start goes to the second file, the end to the first
        journal.append(execution("exec_a", status="running"))
        journal.switch()
        journal.append(execution("exec_a", status="error", error_message="HTTP 500"))
        assert [(row.id, row.status) for row in read_journal(tmp_path)] == [("exec_a", "error")]
    finally:
        journal.close(remove=True)
