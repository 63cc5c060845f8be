"""A backend's counts (``sidecar.monitoring.prometheus.PrometheusExporter``) as a ``prometheus_client``
registry of its own, rendered in the text format. Loaded by the first scrape of ``GET /metrics``: a
backend nobody scrapes never imports ``prometheus_client``."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from sidecar.monitoring.prometheus import DURATION_BUCKETS, GAUGE_HELP, PrometheusExporter

_BOUNDS = [*(repr(float(bound)) for bound in DURATION_BUCKETS), "+Inf"]  # the library's `le` labels


class _Counts(Collector):
    """The exporter's counts and gauges, read at every scrape."""

    def __init__(self, exporter: PrometheusExporter) -> None:
        self._exporter = exporter

    def collect(self) -> Iterable[Metric]:
        exporter = self._exporter
        durations = HistogramMetricFamily(
            "noodl_function_duration_seconds",
            "Duration of finished function runs.",
            labels=["workflow", "status"],
        )
        for labels, tally in list(exporter.durations.items()):
            cumulative, buckets = 0, []
            for bound, count in zip(_BOUNDS, tally.buckets, strict=True):
                cumulative += count
                buckets.append((bound, float(cumulative)))
            durations.add_metric(list(labels), buckets, tally.sum)
        yield durations
        fires = CounterMetricFamily(
            "noodl_trigger_fires",
            "Function runs by trigger type, and fires rejected before they ran.",
            labels=["trigger_type", "outcome"],
        )
        for fire, count in list(exporter.fires.items()):
            fires.add_metric(list(fire), float(count))
        yield fires
        requests = CounterMetricFamily(
            "noodl_http_requests",
            "HTTP requests answered, by route pattern and status.",
            labels=["method", "route", "status"],
        )
        for request, count in list(exporter.requests.items()):
            requests.add_metric(list(request), float(count))
        yield requests
        for name, value in exporter.gauges().items():
            yield GaugeMetricFamily(f"noodl_{name}", GAUGE_HELP.get(name, name), value=float(value))


class Exposition:
    def __init__(self, exporter: PrometheusExporter) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Counts(exporter))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def render(self) -> bytes:
        return generate_latest(self.registry)
