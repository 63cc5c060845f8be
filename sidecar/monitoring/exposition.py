"""A backend's counts (``sidecar.monitoring.prometheus.PrometheusExporter``) as a ``prometheus_client``
registry of its own, rendered in the text format. Loaded by the first scrape of ``GET /metrics``: a
backend nobody scrapes never imports ``prometheus_client``."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from sidecar.monitoring.prometheus import GAUGE_HELP, PrometheusExporter


class _Counts(Collector):
    """The exporter's counters and gauges, read at every scrape (its duration histograms render
    themselves: ``sidecar.monitoring.prom_histograms``)."""

    def __init__(self, exporter: PrometheusExporter) -> None:
        self._exporter = exporter

    def collect(self) -> Iterable[Metric]:
        exporter = self._exporter
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
