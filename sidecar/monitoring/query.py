"""A metrics query from the wire, and the answer built from hourly cells.

Wire (camelCase, every key optional)::

    {from, to}          epoch ms; the range is [hour of ``from``, ``to``): whole hours, default the last 24 h
    bucket              "hour" | "day" (UTC) | "all" (default "hour")
    workflowId, triggerType   filters
    groupBy             subset of ["workflowId", "triggerType"] (default both): one series per group
    nodes               include per-node figures over the range (default true)

Percentiles of a series are read from the merge of its cells' histograms
(:mod:`sidecar.monitoring.sketch`), so they are right over any number of hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sidecar.errors import InvalidMetricsQueryError
from sidecar.monitoring.aggregate import HOUR_MS, NodeCell, NodeKey, RunCell, RunKey
from sidecar.monitoring.sketch import RELATIVE_ERROR

DAY_MS = 24 * HOUR_MS
BUCKETS = ("hour", "day", "all")
GROUPS = ("workflowId", "triggerType")
MAX_RANGE_MS = 3660 * DAY_MS  # ten years: anything wider is a unit mistake (seconds for ms…)
_KEYS = {"from", "to", "bucket", "workflowId", "triggerType", "groupBy", "nodes", "backendId"}


@dataclass(frozen=True)
class MetricsQuery:
    start: int
    end: int
    bucket: str
    workflow_id: str | None
    trigger_type: str | None
    group_by: tuple[str, ...]
    nodes: bool

    @classmethod
    def from_wire(cls, params: Mapping[str, Any] | None, now_ms: int) -> MetricsQuery:
        params = params or {}
        unknown = sorted(set(params) - _KEYS)
        if unknown:
            raise InvalidMetricsQueryError(f"unknown metrics query keys: {', '.join(unknown)}")
        end = _epoch_ms(params, "to", now_ms)
        start = _epoch_ms(params, "from", end - DAY_MS)
        if start >= end:
            raise InvalidMetricsQueryError("'from' must be before 'to'")
        if end - start > MAX_RANGE_MS:
            raise InvalidMetricsQueryError("the range is wider than ten years")
        bucket = params.get("bucket", "hour")
        if bucket not in BUCKETS:
            raise InvalidMetricsQueryError(f"'bucket' must be one of {', '.join(BUCKETS)}")
        group_by = params.get("groupBy", list(GROUPS))
        if not isinstance(group_by, list) or any(item not in GROUPS for item in group_by):
            raise InvalidMetricsQueryError(f"'groupBy' must be a list of {', '.join(GROUPS)}")
        nodes = params.get("nodes", True)
        if not isinstance(nodes, bool):
            raise InvalidMetricsQueryError("'nodes' must be a boolean")
        return cls(
            start=start - start % HOUR_MS,
            end=end,
            bucket=bucket,
            workflow_id=_text(params, "workflowId"),
            trigger_type=_text(params, "triggerType"),
            group_by=tuple(item for item in GROUPS if item in group_by),
            nodes=nodes,
        )

    def bucket_start(self, hour: int) -> int:
        if self.bucket == "hour":
            return hour
        if self.bucket == "day":
            return hour - hour % DAY_MS
        return self.start


def _epoch_ms(params: Mapping[str, Any], key: str, default: int) -> int:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidMetricsQueryError(f"'{key}' must be a non-negative integer (epoch milliseconds)")
    return value


def _text(params: Mapping[str, Any], key: str) -> str | None:
    value = params.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise InvalidMetricsQueryError(f"'{key}' must be a non-empty string")
    return value


def run_figures(cell: RunCell) -> dict[str, Any]:
    histogram = cell.histogram
    return {
        "runs": cell.runs,
        "successes": cell.successes,
        "errors": cell.errors,
        "timeouts": cell.timeouts,
        "errorRate": round(cell.errors / cell.runs, 4) if cell.runs else 0.0,
        "totalMs": cell.total_ms,
        "avgMs": round(cell.total_ms / cell.runs, 1) if cell.runs else None,
        "p50Ms": histogram.quantile(0.5),
        "p95Ms": histogram.quantile(0.95),
        "p99Ms": histogram.quantile(0.99),
    }


def answer(
    query: MetricsQuery,
    runs: Iterable[tuple[RunKey, RunCell]],
    nodes: Iterable[tuple[NodeKey, NodeCell]],
    retention_days: int,
) -> dict[str, Any]:
    """``{from, to, bucket, relativeError, retentionDays, series, totals, nodes?}`` (series by start)."""
    groups: dict[tuple[int, str | None, str | None], RunCell] = {}
    totals = RunCell()
    by_workflow = "workflowId" in query.group_by
    by_trigger = "triggerType" in query.group_by
    for (hour, workflow, trigger), cell in runs:
        key = (query.bucket_start(hour), workflow if by_workflow else None, trigger if by_trigger else None)
        group = groups.get(key)
        if group is None:
            group = groups[key] = RunCell()
        group.merge(cell)
        totals.merge(cell)
    series = []
    for group_key in sorted(groups, key=lambda k: (k[0], k[1] or "", k[2] or "")):
        item: dict[str, Any] = {"start": group_key[0]}
        if by_workflow:
            item["workflowId"] = group_key[1]
        if by_trigger:
            item["triggerType"] = group_key[2]
        item.update(run_figures(groups[group_key]))
        series.append(item)
    result: dict[str, Any] = {
        "from": query.start,
        "to": query.end,
        "bucket": query.bucket,
        "relativeError": RELATIVE_ERROR,
        "retentionDays": retention_days,
        "series": series,
        "totals": run_figures(totals),
    }
    if query.nodes:
        result["nodes"] = _node_figures(nodes)
    return result


def _node_figures(nodes: Iterable[tuple[NodeKey, NodeCell]]) -> list[dict[str, Any]]:
    merged: dict[tuple[str, str], NodeCell] = {}
    for (_hour, workflow, node), cell in nodes:
        into = merged.get((workflow, node))
        if into is None:
            into = merged[(workflow, node)] = NodeCell(cell.node_type)
        into.merge(cell)
    return [
        {
            "workflowId": workflow,
            "nodeId": node,
            "nodeType": cell.node_type,
            "steps": cell.steps,
            "errors": cell.errors,
            "totalMs": cell.total_ms,
            "avgMs": round(cell.total_ms / cell.steps, 1) if cell.steps else None,
            "p95Ms": cell.histogram.quantile(0.95),
        }
        for (workflow, node), cell in sorted(merged.items())
    ]
