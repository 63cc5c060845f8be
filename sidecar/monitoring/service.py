"""``Monitoring``: one backend's metrics, wired in one place — aggregator, metrics file, Prometheus
exporter, and the background task that merges cells into the file and applies retention.

Lifecycle: ``open()`` (reads ``monitoring.json``) → ``attach(writer)`` (metrics follow every committed
history batch) → ``close()`` (merges what is pending, closes the file). While open, ``metrics()`` answers
queries (after merging what is pending, so a query sees every committed run) and ``exporter`` renders
``/metrics``.

``<dataDir>/monitoring.json`` (optional)::

    {"retentionDays": 90, "scrapeToken": "a long random string"}

``retentionDays`` (1 … 3650, default 90) is how long hourly cells are kept, independent of history's own
retention. ``scrapeToken`` (at least 16 characters) is a second credential accepted by ``GET /metrics``
only, so a Prometheus server need not hold the admin token.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from sidecar.errors import MonitoringConfigError
from sidecar.history.writer import HistoryWriter
from sidecar.jsonfile import read_json
from sidecar.monitoring.aggregate import HOUR_MS, Aggregator, BatchLike, ExecutionLike
from sidecar.monitoring.live import LiveFeed
from sidecar.monitoring.prometheus import Gauges, PrometheusExporter
from sidecar.monitoring.query import DAY_MS, MetricsQuery, answer
from sidecar.monitoring.store import FILE_NAME, MetricsStore

if TYPE_CHECKING:  # loaded on first use: a backend without alerts never imports the alerting modules
    from sidecar.monitoring.alerts import AlertEngine

CONFIG_FILE = "monitoring.json"
ALERT_FILES = ("alerts.json", "alert-state.json")
FLUSH_SECONDS = 1.0
RETENTION_EVERY_SECONDS = 600.0

log = structlog.get_logger()


@dataclass(frozen=True)
class MonitoringConfig:
    retention_days: int = 90
    scrape_token: str | None = None

    @classmethod
    def load(cls, data_dir: Path) -> MonitoringConfig:
        """The defaults when there is no ``monitoring.json``; else the file, checked
        (``sidecar.monitoring.config_file``; raises ``MonitoringConfigError``)."""
        path = data_dir / CONFIG_FILE
        try:
            raw = read_json(path)
        except (OSError, ValueError) as error:
            raise MonitoringConfigError(f"{CONFIG_FILE} cannot be read: {error}") from error
        if raw is None:
            return cls()
        from sidecar.monitoring.config_file import checked  # pydantic, only for a file to check

        retention_days, scrape_token = checked(raw)
        return cls(retention_days, scrape_token)


class Monitoring:
    def __init__(
        self,
        store: MetricsStore,
        config: MonitoringConfig,
        gauges: Gauges,
        *,
        data_dir: Path,
        ephemeral: bool,
        backend_id: str = "",
    ) -> None:
        self.config = config
        self._store = store
        self.exporter = PrometheusExporter(gauges)
        self._aggregator = Aggregator(self._finished)
        self.live = LiveFeed(backend_id)
        self._data_dir = data_dir
        self._ephemeral = ephemeral
        self._backend_id = backend_id
        self._alerts: AlertEngine | None = None
        self.schedules: Callable[[], Mapping[str, float]] = dict
        """Armed schedules' next fires (epoch s) for the ``scheduleMissed`` rules; the backend sets it."""
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._writer: HistoryWriter | None = None

    @classmethod
    async def open(
        cls, data_dir: Path, *, ephemeral: bool, gauges: Gauges, backend_id: str = ""
    ) -> Monitoring:
        """Read ``monitoring.json`` (raises ``MonitoringConfigError``) and, when there is one,
        ``alerts.json`` (raises ``InvalidAlertConfigError``); open ``metrics.sqlite`` (in memory for an
        ephemeral backend); start the background merge (and the alert evaluation when alerts exist)."""
        config = MonitoringConfig.load(data_dir) if not ephemeral else MonitoringConfig()
        store = await MetricsStore.open(None if ephemeral else data_dir / FILE_NAME)
        monitoring = cls(store, config, gauges, data_dir=data_dir, ephemeral=ephemeral, backend_id=backend_id)
        if any((data_dir / name).exists() for name in ALERT_FILES):
            try:
                _ = monitoring.alerts  # an invalid alerts.json refuses the start, as triggers.json does
            except BaseException:
                await store.close()
                raise
        monitoring._task = asyncio.get_running_loop().create_task(monitoring._run(), name="metrics-merge")
        return monitoring

    @property
    def alerts(self) -> AlertEngine:
        """The backend's alert engine, opened (and started) on first use."""
        if self._alerts is None:
            from sidecar.monitoring.alerts import AlertEngine

            data_dir = self._data_dir

            async def secret(name: str) -> str:
                from sidecar.credentials import CredentialStore

                found = await asyncio.to_thread(CredentialStore(data_dir).lookup, name)
                return found.value

            engine = AlertEngine.open(
                data_dir, ephemeral=self._ephemeral, backend_id=self._backend_id, secret=secret
            )
            engine.schedules = lambda: self.schedules()
            engine.start()
            self._alerts = engine
        return self._alerts

    def _finished(self, row: ExecutionLike, late: bool) -> None:
        self.exporter.run_finished(row, late)
        alerts = self._alerts
        if alerts is not None and alerts.config.rules:
            from sidecar.monitoring.alerts import RunFact

            rejected = row.metadata is not None and '"rejected":true' in row.metadata
            at = row.completed_at if row.completed_at is not None else row.started_at
            alerts.observe(
                RunFact(
                    row.id,
                    row.workflow_id,
                    row.status,
                    row.duration_ms or 0,
                    at,
                    rejected,
                    row.trigger_type,
                    row.error_message,
                )
            )

    def attach(self, writer: HistoryWriter) -> None:
        """Follow ``writer``'s committed batches; queries then wait for what it holds, so a run that was
        answered before the query is in the figures."""
        writer.observers.append(self.observe)
        writer.submitted = self.live.row
        self._writer = writer

    def observe(self, batch: BatchLike) -> None:
        """A ``HistoryWriter`` observer: fold one committed batch in (synchronous, in-memory)."""
        self._aggregator.observe(batch)

    async def flush(self) -> None:
        """Merge the cells gathered so far into the file."""
        await self._store.merge(self._aggregator.take())

    async def apply_retention(self, now_ms: int | None = None) -> int:
        """Drop the hours older than ``retentionDays``; the count of cells dropped."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        cutoff = now - self.config.retention_days * DAY_MS
        return await self._store.delete_before(cutoff - cutoff % HOUR_MS)

    async def metrics(self, params: Mapping[str, Any] | None, now_ms: int | None = None) -> dict[str, Any]:
        """The answer of ``monitoring:metrics`` / ``GET /admin/metrics`` (``sidecar.monitoring.query``)."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        query = MetricsQuery.from_wire(params, now)
        if self._writer is not None:
            await self._writer.flush()
        await self.flush()
        days = query.bucket != "hour"  # whole days from the roll-ups (sidecar.monitoring.store)
        runs = await self._store.run_cells(
            query.start, query.end, query.workflow_id, query.trigger_type, days=days
        )
        nodes = (
            await self._store.node_cells(query.start, query.end, query.workflow_id, days=days)
            if query.nodes and query.trigger_type is None
            else []
        )
        return answer(query, runs, nodes, self.config.retention_days)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._alerts is not None:
            await self._alerts.close()
        await self.live.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await self.flush()
        finally:
            await self._store.close()

    async def _run(self) -> None:
        next_retention = 0.0
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            try:
                await self.flush()
                if time.monotonic() >= next_retention:
                    await self.apply_retention()
                    next_retention = time.monotonic() + RETENTION_EVERY_SECONDS
            except Exception as error:  # metrics must never take the backend down
                log.error("metrics merge failed", error=repr(error))
