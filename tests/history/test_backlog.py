"""A writer that falls behind: the backlog is bounded by recording runs summary-only, and says so."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sidecar.history import ExecutionHistory, HistoryConfig
from sidecar.history.retention import RetentionConfig
from sidecar.history.rows import WriteBatch
from sidecar.runtime import Runtime, make_request
from tests.history.graphs import condition_then_function

SUMMARY_ABOVE = 3
RUNS = 10


async def test_runs_beyond_the_backlog_limit_are_recorded_summary_only_and_counted(tmp_path: Path) -> None:
    config = HistoryConfig(
        retention=RetentionConfig(max_age_ms=None, interval_seconds=3600), summary_above=SUMMARY_ABOVE
    )
    history = await ExecutionHistory.open(tmp_path, backend_id="b", backend_name="B", bus=None, config=config)
    assert history.writer is not None
    # The disk stalls: the writer's first batch waits until the gate opens.
    gate = asyncio.Event()
    store = history.writer._store
    real_write = store.write

    async def stalled(batch: WriteBatch) -> None:
        await gate.wait()
        await real_write(batch)

    store.write = stalled  # type: ignore[method-assign]
    try:
        runtime = Runtime.from_export(condition_then_function())
        for i in range(RUNS):
            request = make_request({"flag": True, "name": f"n{i}"})
            response = await runtime.run("greet", request, recorder=history.recorder_for())
            assert response.status_code == 200  # the runs themselves never wait for the writer
            await asyncio.sleep(0.01)  # let the writer take batches meanwhile

        figures = history.recording
        assert figures["backlogRuns"] == RUNS
        assert figures["summaryOnlyAbove"] == SUMMARY_ABOVE
        assert figures["summaryOnlyRuns"] == RUNS - SUMMARY_ABOVE
        # Each summary run skipped its Request, Condition and Function steps (the Response sends nothing).
        assert figures["stepsNotRecorded"] == 3 * (RUNS - SUMMARY_ABOVE)

        gate.set()
        stats = await history.stats()
        rows = (await history.list_executions({"orderDir": "asc", "limit": 100}))["executions"]
        full = [await history.get_execution(row["id"]) for row in rows]
    finally:
        gate.set()
        await history.close()

    assert stats["totalExecutions"] == RUNS
    recording = stats["recording"]
    assert isinstance(recording, dict)
    assert recording["summaryOnlyRuns"] == RUNS - SUMMARY_ABOVE  # the service's stats show it
    assert history.recording["backlogRuns"] == 0
    assert [row["triggerData"]["body"]["name"] for row in rows] == [f"n{i}" for i in range(RUNS)]
    assert all(row["status"] == "success" for row in rows)
    for index, execution in enumerate(full):
        assert execution is not None
        summary = index >= SUMMARY_ABOVE
        assert execution["metadata"].get("summaryOnly", False) is summary
        assert (execution["steps"] == []) is summary


async def test_a_writer_keeping_pace_records_every_step(tmp_path: Path) -> None:
    history = await ExecutionHistory.open(tmp_path, backend_id="b", backend_name="B", bus=None)
    try:
        runtime = Runtime.from_export(condition_then_function())
        await asyncio.gather(
            *(
                runtime.run(
                    "greet", make_request({"flag": True, "name": f"n{i}"}), recorder=history.recorder_for()
                )
                for i in range(50)
            )
        )
        stats = await history.stats()
    finally:
        await history.close()
    recording = stats["recording"]
    assert isinstance(recording, dict)
    counts = ("summaryOnlyRuns", "stepsNotRecorded", "droppedRows")
    assert {key: recording[key] for key in counts} == dict.fromkeys(counts, 0)
    assert recording["summaryOnlyAbove"] == 1000
