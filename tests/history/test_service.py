"""History turned off or unavailable: runs still work, unrecorded; the status says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidecar.errors import HistoryStorageError
from sidecar.history import ExecutionHistory, HistoryConfig


async def test_history_turned_off_records_nothing_and_answers_empty(tmp_path: Path) -> None:
    history = await ExecutionHistory.open(
        tmp_path, backend_id="b", backend_name="B", bus=None, config=HistoryConfig(enabled=False)
    )
    try:
        assert history.recorder_for() is None
        assert history.status == {
            "enabled": False,
            "dbPath": str(tmp_path / "executions.sqlite"),
            "error": "disabled",
        }
        assert await history.list_executions({"status": "error"}) == {"executions": []}
        assert await history.get_execution("exec_x") is None
        stats = await history.stats("hello")
        assert (stats["totalExecutions"], stats["workflowId"]) == (0, "hello")
        assert await history.clear({}) == {"deleted": 0}
    finally:
        await history.close()
    assert not (tmp_path / "executions.sqlite").exists()


async def test_a_file_sqlite_cannot_open_disables_history_loudly(tmp_path: Path) -> None:
    (tmp_path / "executions.sqlite").mkdir()  # a directory where the database should be
    history = await ExecutionHistory.open(tmp_path, backend_id="b", backend_name="B", bus=None)
    try:
        assert history.recorder_for() is None
        status = history.status
        assert status["enabled"] is False
        assert "executions.sqlite" in status["error"]
        with pytest.raises(HistoryStorageError):
            await history.list_executions({})
    finally:
        await history.close()


async def test_a_rejected_trigger_fire_is_a_failed_row_marked_rejected(history: ExecutionHistory) -> None:
    from sidecar.triggers.ports import Rejection, RejectionRecorder, TriggerKind

    rejection = Rejection(
        kind=TriggerKind.WEBHOOK,
        trigger_id="trg_9",
        workflow_id="orders",
        source="webhook",
        reason="Invalid signature",
        status_code=401,
        trigger_data={"headers": {"Authorization": "Bearer tok-abcdef0123"}, "body": {"order": 7}},
    )
    recorder: RejectionRecorder = history  # the triggers package's port, fitted structurally

    await recorder.record_rejection(rejection)
    assert history.writer is not None
    await history.writer.flush()

    [row] = (await history.list_executions({"workflowId": "orders"}))["executions"]
    assert (row["status"], row["triggerType"], row["errorMessage"]) == (
        "error",
        "webhook",
        "HTTP 401: Invalid signature",
    )
    assert row["metadata"] == {
        "backendId": "backend_test",
        "backendName": "Test backend",
        "triggerSource": "webhook",
        "triggerId": "trg_9",
        "rejected": True,
    }
    assert row["triggerData"] == {"headers": {"Authorization": "[REDACTED]"}, "body": {"order": 7}}
