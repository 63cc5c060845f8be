"""Execution events built from rows — the same functions serve live publishing and stored replay.

A step yields up to two events: one when it starts (``start_seq``: status ``running``, input preview)
and one when it ends (``seq``: final status, timings, output preview, error). Replay rebuilds them from
the stored row with the stored sequence numbers, so a reconnecting editor sees what it would have seen.
"""

from __future__ import annotations

from typing import Any

from sidecar.events import EventKind, ExecutionEvent
from sidecar.history.payload import as_text, preview
from sidecar.history.rows import ExecutionRow, StepRow

STARTED_SEQ = 1


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def started_event(backend_id: str, row: ExecutionRow) -> ExecutionEvent:
    data = {
        "workflowName": row.workflow_name,
        "triggerType": row.trigger_type,
        "status": "running",
        "startedAt": row.started_at,
    }
    return ExecutionEvent(EventKind.STARTED, backend_id, row.id, row.workflow_id, STARTED_SEQ, data)


def finished_event(backend_id: str, row: ExecutionRow) -> ExecutionEvent:
    data = _present(
        {
            "status": row.status,
            "startedAt": row.started_at,
            "completedAt": row.completed_at,
            "durationMs": row.duration_ms,
            "errorMessage": row.error_message,
        }
    )
    return ExecutionEvent(EventKind.FINISHED, backend_id, row.id, row.workflow_id, row.last_seq, data)


def step_started_event(backend_id: str, workflow_id: str, row: StepRow) -> ExecutionEvent:
    input_text, input_size = as_text(row.input_data, row.input_size)
    data = _step_identity(row) | {
        "status": "running",
        "startedAt": row.started_at,
        "inputPreview": preview(input_text or "null"),
        "inputSize": input_size,
    }
    return ExecutionEvent(EventKind.STEP, backend_id, row.execution_id, workflow_id, row.start_seq, data)


def step_ended_event(backend_id: str, workflow_id: str, row: StepRow) -> ExecutionEvent:
    input_text, input_size = as_text(row.input_data, row.input_size)
    output_text, output_size = as_text(row.output_data, row.output_size)
    data = _step_identity(row) | _present(
        {
            "status": row.status,
            "startedAt": row.started_at,
            "completedAt": row.completed_at,
            "durationMs": row.duration_ms,
            "inputPreview": preview(input_text or "null"),
            "inputSize": input_size,
            "outputPreview": None if output_text is None else preview(output_text),
            "outputSize": output_size if output_text is not None else None,
            "errorMessage": row.error_message,
        }
    )
    return ExecutionEvent(EventKind.STEP, backend_id, row.execution_id, workflow_id, row.seq, data)


def step_progress_event(
    backend_id: str, workflow_id: str, row: StepRow, progress: dict[str, Any]
) -> ExecutionEvent:
    """A running step's progress (an AI node's streamed text so far). It carries the step's start
    ``seq``: it updates that step rather than adding one, and replays never include it."""
    data = _step_identity(row) | {"status": "running", "startedAt": row.started_at, "progress": progress}
    return ExecutionEvent(EventKind.STEP, backend_id, row.execution_id, workflow_id, row.start_seq, data)


def _step_identity(row: StepRow) -> dict[str, Any]:
    return _present(
        {
            "stepId": row.id,
            "nodeId": row.node_id,
            "nodeType": row.node_type,
            "nodeName": row.node_name,
            "stepIndex": row.step_index,
            "runIndex": row.run_index,
        }
    )


def replay_execution(
    backend_id: str, execution: ExecutionRow, steps: list[StepRow], after_seq: int
) -> list[ExecutionEvent]:
    """Every stored event of one execution with ``seq > after_seq``, in seq order."""
    events = [started_event(backend_id, execution)]
    for step in steps:
        events.append(step_started_event(backend_id, execution.workflow_id, step))
        if step.status != "running" and step.seq > step.start_seq:
            events.append(step_ended_event(backend_id, execution.workflow_id, step))
    if execution.status != "running" and execution.last_seq > STARTED_SEQ:
        events.append(finished_event(backend_id, execution))
    return sorted((e for e in events if e.seq > after_seq), key=lambda e: e.seq)
