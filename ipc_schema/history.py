"""Execution history and live execution events."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ipc_schema.base import PositionalParams, WireModel

JsonObject = dict[str, Any]


class ExecutionQueryParams(PositionalParams):
    query: JsonObject = Field(
        default_factory=dict,
        description="ExecutionQuery: workflowId, status, triggerType, startedAfter/Before, duration and "
        "error filters, search, limit (100), cursor/offset, orderBy, orderDir; backendId picks one backend.",
    )


class ExecutionIdParams(PositionalParams):
    execution_id: str


class StatsRequest(WireModel):
    backend_id: str
    workflow_id: str | None = None


class StatsParams(PositionalParams):
    request: StatsRequest


class ExecutionSubscription(WireModel):
    backend_id: str
    workflow_id: str | None = None


class SubscribeParams(PositionalParams):
    subscription: ExecutionSubscription


class UnsubscribeParams(PositionalParams):
    subscription_id: str


class ExecutionEventParams(PositionalParams):
    event: JsonObject = Field(
        description="backendId, executionId, workflowId, seq (per execution, from 1), and the kind's fields: "
        "nodeId, status, timings, payload previews and sizes for steps."
    )
