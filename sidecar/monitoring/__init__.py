"""Monitoring: what a backend's runs add up to, over time and right now.

This package owns a backend's workflow metrics — per workflow, trigger type and hour: runs, successes,
errors, timeouts, durations (total, average, p50/p95/p99) and per-node error counts and p95 — kept
incrementally from the batches the history writer commits (never by rescanning history), stored in
``<dataDir>/metrics.sqlite`` for ``retentionDays`` (``monitoring.json``), independent of history's
retention; and the backend's Prometheus registry (``GET /metrics``).

Public surface::

    monitoring = await Monitoring.open(data_dir, ephemeral=False, gauges=lambda: {...})
    monitoring.attach(history.writer)            # follow its committed batches
    await monitoring.metrics({"from": ..., "to": ..., "bucket": "day", "workflowId": "hello"})
    monitoring.exporter.render()                       # Prometheus text format
    await monitoring.close()

Doors: ``monitoring:metrics`` (IPC, ``sidecar.ipc.handlers.monitoring``), ``GET /admin/metrics`` and
``GET /metrics`` (``sidecar.monitoring.routes``).
"""

from __future__ import annotations

from sidecar.monitoring.service import Monitoring, MonitoringConfig

__all__ = ["Monitoring", "MonitoringConfig"]
