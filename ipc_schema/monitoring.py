"""Workflow metrics (``monitoring:*``): hourly figures per workflow and trigger type."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ipc_schema.base import PositionalParams, WireModel


class MetricsRequest(WireModel):
    backend_id: str
    from_ms: int | None = Field(
        default=None,
        ge=0,
        alias="from",
        description="Epoch ms; rounded down to its hour. Default: to - 24 h.",
    )
    to_ms: int | None = Field(
        default=None, ge=0, alias="to", description="Epoch ms, exclusive. Default: now."
    )
    bucket: Literal["hour", "day", "all"] = "hour"
    workflow_id: str | None = Field(default=None, min_length=1)
    trigger_type: str | None = Field(
        default=None, min_length=1, description="Also leaves out the per-node figures (not kept per trigger)."
    )
    group_by: list[Literal["workflowId", "triggerType"]] | None = Field(
        default=None, description="What a series is per (default both); [] sums everything per bucket."
    )
    nodes: bool = True


class MetricsParams(PositionalParams):
    request: MetricsRequest


class AlertRuleParams(PositionalParams):
    backend_id: str
    rule: dict[str, Any] = Field(
        description="One rule of alerts.json: {id, type, channels, …} (docs/monitoring.md); same id replaces."
    )


class AlertChannelParams(PositionalParams):
    backend_id: str
    channel: dict[str, Any] = Field(
        description="One channel of alerts.json: {id, type: webhook|email, …}; same id replaces."
    )


class AlertItemParams(PositionalParams):
    backend_id: str
    id: str = Field(min_length=1)


class AlertListParams(PositionalParams):
    backend_id: str
    limit: int = Field(default=100, ge=1, le=1000, description="History entries, newest first.")


class FeedSubscribeParams(PositionalParams):
    backend_id: str


class FeedUnsubscribeParams(PositionalParams):
    subscription_id: str


class FeedFrameParams(PositionalParams):
    frame: dict[str, Any] = Field(
        description="One second of a backend: {at, backendId, runsPerSecond, errors, p95Ms, inFlight, "
        "byWorkflow: {id: {runs, errors}}, "
        "latestFailures: [{executionId, workflowId, error, at, durationMs}], "
        "latestRuns: [{executionId, workflowId, status, durationMs, at}]} (latest first, at most 10 each)."
    )
