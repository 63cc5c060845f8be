"""Rows to the contract's camelCase JSON shapes: WorkflowExecution, ExecutionStep, WithSteps.

Absent rather than null: a column that is NULL or empty text is left out (the reference's behaviour).
Numeric zeros are kept, so a 0 ms step still shows its duration. Steps also carry our additions
``runIndex``, ``inputSize`` and ``outputSize``.
"""

from __future__ import annotations

from typing import Any

from sidecar.history.payload import decode
from sidecar.history.rows import ExecutionRow, StepRow


def _without_empty(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None and value != ""}


def execution_json(row: ExecutionRow) -> dict[str, Any]:
    return _without_empty(
        {
            "id": row.id,
            "workflowId": row.workflow_id,
            "workflowName": row.workflow_name,
            "triggerType": row.trigger_type,
            "triggerData": decode(row.trigger_data),
            "status": row.status,
            "startedAt": row.started_at,
            "completedAt": row.completed_at,
            "durationMs": row.duration_ms,
            "errorMessage": row.error_message,
            "errorStack": row.error_stack,
            "metadata": decode(row.metadata),
        }
    )


def step_json(row: StepRow) -> dict[str, Any]:
    return _without_empty(
        {
            "id": row.id,
            "executionId": row.execution_id,
            "nodeId": row.node_id,
            "nodeType": row.node_type,
            "nodeName": row.node_name,
            "stepIndex": row.step_index,
            "startedAt": row.started_at,
            "completedAt": row.completed_at,
            "durationMs": row.duration_ms,
            "status": row.status,
            "inputData": decode(row.input_data),
            "outputData": decode(row.output_data),
            "errorMessage": row.error_message,
            "runIndex": row.run_index,
            "inputSize": row.input_size,
            "outputSize": row.output_size,
        }
    )


def execution_with_steps_json(row: ExecutionRow, steps: list[StepRow]) -> dict[str, Any]:
    return execution_json(row) | {"steps": [step_json(step) for step in steps]}
