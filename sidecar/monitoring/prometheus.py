"""One backend's Prometheus metrics: a ``CollectorRegistry`` of its own (one process hosts many backends,
so nothing goes to the library's global registry), rendered in the text format for ``GET /metrics``.

Series and their labels — every label has a bounded set of values:

- ``noodl_function_duration_seconds{workflow,status}`` histogram of finished runs (status ``success`` |
  ``error`` | ``timeout``); ``workflow`` takes the first ``MAX_WORKFLOW_LABELS`` workflow ids seen, any
  later one is counted under ``_other``.
- ``noodl_trigger_fires_total{trigger_type,outcome}``: runs by how they were started; ``outcome`` is
  ``run`` or ``rejected`` (a fire refused before it reached its function).
- ``noodl_http_requests_total{method,route,status}``: ``route`` is the matched route *pattern*
  (``/admin/schema/{table}``, the Parse door's ``/classes/:className``), never the raw path.
- ``noodl_history_backlog_rows``, ``noodl_history_backlog_runs``, ``noodl_history_dropped_rows``,
  ``noodl_store_write_queue_depth``: read at scrape time.
- ``process_*`` and ``python_info`` from the library's process and platform collectors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from aiohttp import web

from sidecar.lazy import Lazy
from sidecar.monitoring.aggregate import ExecutionLike
from sidecar.monitoring.prom_histograms import HistogramFamily

if TYPE_CHECKING:
    from sidecar.monitoring.exposition import Exposition

MAX_WORKFLOW_LABELS = 1_000
OTHER = "_other"
UNMATCHED = "_unmatched"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_TRIGGER_TYPES = frozenset({"webhook", "schedule", "manual", "db_change", "internal_event", "test"})
CONTENT_TYPE = "text/plain; version=1.0.0; charset=utf-8"
"""``prometheus_client.CONTENT_TYPE_LATEST`` (a test keeps them equal), known without loading the library."""

Gauges = Callable[[], Mapping[str, float]]
"""Current depths by gauge name (without the ``noodl_`` prefix); read at every scrape."""


class LabelBudget:
    """The first ``limit`` distinct values keep their name; later ones share ``OTHER``."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()

    def label(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= self._limit:
            return OTHER
        self._seen.add(value)
        return value


GAUGE_HELP = {
    "history_backlog_rows": "History rows queued and not yet committed.",
    "history_backlog_runs": "Answered runs whose history rows are not yet committed.",
    "history_dropped_rows": "History rows refused or lost since the backend started.",
    "store_write_queue_depth": "Record store writes waiting for the store's writer thread.",
}


class PrometheusExporter:
    """Counts as runs finish and requests are answered, in plain dictionaries; ``prometheus_client`` is
    loaded, and the registry built over these counts, by the first scrape (``render``)."""

    def __init__(self, gauges: Gauges, *, max_workflows: int = MAX_WORKFLOW_LABELS) -> None:
        self.gauges = gauges
        self._workflows = LabelBudget(max_workflows)
        # Rendered by us with a per-series cache: the library formats every sample at every scrape.
        self.durations = HistogramFamily(
            "noodl_function_duration_seconds",
            "Duration of finished function runs.",
            ["workflow", "status"],
            DURATION_BUCKETS,
        )
        """``noodl_function_duration_seconds`` by (workflow, status)."""
        self.fires: Counter[tuple[str, str]] = Counter()
        """``noodl_trigger_fires`` by (trigger type, outcome)."""
        self.requests: Counter[tuple[str, str, str]] = Counter()
        """``noodl_http_requests`` by (method, route pattern, status)."""
        self._exposition: Lazy[Exposition] = Lazy(self._make_exposition)

    def run_finished(self, row: ExecutionLike, timed_out: bool) -> None:
        """``sidecar.monitoring.aggregate.FinishedRun``: one committed finished execution row."""
        status = "timeout" if timed_out else ("success" if row.status == "success" else "error")
        workflow = self._workflows.label(row.workflow_id)
        self.durations.observe((workflow, status), (row.duration_ms or 0) / 1000)
        rejected = row.metadata is not None and '"rejected":true' in row.metadata
        trigger = row.trigger_type if row.trigger_type in _TRIGGER_TYPES else OTHER
        self.fires[(trigger, "rejected" if rejected else "run")] += 1

    async def on_response_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """An ``on_response_prepare`` signal handler: every answered request, errors included."""
        method = request.method if request.method in _METHODS else "OTHER"
        self.requests[(method, route_pattern(request), str(response.status))] += 1

    def render(self) -> bytes:
        return self._exposition.get().render() + self.durations.render()

    def _make_exposition(self) -> Exposition:
        from sidecar.monitoring.exposition import Exposition

        return Exposition(self)


def route_pattern(request: web.Request) -> str:
    from sidecar.web.dispatch import ROUTE_PATTERN

    pattern = request.get(ROUTE_PATTERN)
    if pattern is not None:
        return str(pattern)
    match_info = request.match_info
    route = getattr(match_info, "route", None)
    resource = getattr(route, "resource", None)
    if resource is None or match_info.http_exception is not None:
        return UNMATCHED
    return str(resource.canonical)
