"""Execution history: every function run, node by node, in ``<dataDir>/executions.sqlite``.

Public surface::

    history = await ExecutionHistory.open(data_dir, backend_id=..., backend_name=..., bus=bus)
    response = await runtime.run(name, request, recorder=history.recorder_for(RunTrigger("webhook")))
    await history.list_executions({"workflowId": "hello", "status": "error"})  # {executions, nextCursor?}
    await history.get_execution(execution_id)                        # ExecutionWithSteps | None
    await history.stats("hello"); await history.delete(id); await history.clear({...})
    await history.close()
"""

from __future__ import annotations

from sidecar.history.interface import HistoryStore
from sidecar.history.query import ExecutionQuery
from sidecar.history.recorder import HistoryRecorder, RunRecorder, RunTrigger
from sidecar.history.rerun import RerunRequest, rerun_request
from sidecar.history.retention import RetentionConfig, apply_retention
from sidecar.history.scrub import Scrubber, scrub_request
from sidecar.history.service import ExecutionHistory, HistoryConfig
from sidecar.history.sqlite_store import SqliteHistoryStore

__all__ = [
    "ExecutionHistory",
    "ExecutionQuery",
    "HistoryConfig",
    "HistoryRecorder",
    "HistoryStore",
    "RerunRequest",
    "RetentionConfig",
    "RunRecorder",
    "RunTrigger",
    "Scrubber",
    "SqliteHistoryStore",
    "apply_retention",
    "rerun_request",
    "scrub_request",
]
