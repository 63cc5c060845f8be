"""``AlertEngine``: one backend's rules evaluated against its finished runs and schedules, alerts opened,
reminded and resolved, notices sent, and a history of all of it.

Lifecycle of an alert (one open alert per rule and subject — a workflow, or a schedule trigger)::

    condition holds ──► open (notice "firing") ──► every remindEveryMinutes: notice "reminder"
                                   │
            condition clears ──────┴──► resolved (notice "resolved"), moved to history

``observe(fact)`` takes each finished run (the monitoring service feeds it from history's committed
batches) and evaluates the failure rules at once; ``evaluate(now)`` runs every second for the windowed
rules, missed schedules and reminders. Notices leave in tasks of their own, one per channel, so a slow or
failing channel delays nobody; each delivery's outcome (sent, failed after retries, rate limited) is
recorded in the history entry. Open alerts and the history (last ``HISTORY_LIMIT`` entries) are kept in
``<dataDir>/alert-state.json`` so a restart neither loses them nor fires the same alerts again.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from sidecar.errors import AlertNotFoundError
from sidecar.jsonfile import read_json, write_json_atomic
from sidecar.monitoring.alerts import config as alert_config
from sidecar.monitoring.alerts.channels import Delivery, Notice, RateLimiter, Secret, Sleep, deliver
from sidecar.monitoring.alerts.conditions import Breaches, RunFact, Windows, breaches
from sidecar.monitoring.alerts.config import AlertConfig, Rule

STATE_FILE = "alert-state.json"
HISTORY_LIMIT = 1_000
TICK_SECONDS = 1.0
_LABELS = {"firing": "FIRING", "reminder": "STILL FIRING", "resolved": "RESOLVED"}
_FAILURE_RULES = frozenset({"workflowFailed", "consecutiveFailures"})

log = structlog.get_logger("sidecar.alerts")

Clock = Callable[[], int]
"""Epoch milliseconds."""
Schedules = Callable[[], Mapping[str, float]]


def wall_clock() -> int:
    return int(time.time() * 1000)


@dataclass
class OpenAlert:
    id: str
    rule_id: str
    subject: str
    opened_at: int
    last_notice_at: int
    detail: dict[str, Any]
    reminders: int = 0

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ruleId": self.rule_id,
            "subject": self.subject,
            "openedAt": self.opened_at,
            "lastNoticeAt": self.last_notice_at,
            "reminders": self.reminders,
            "detail": self.detail,
        }

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> OpenAlert:
        return cls(
            str(raw["id"]),
            str(raw["ruleId"]),
            str(raw["subject"]),
            int(raw["openedAt"]),
            int(raw["lastNoticeAt"]),
            dict(raw.get("detail") or {}),
            int(raw.get("reminders") or 0),
        )


@dataclass
class HistoryEntry:
    alert_id: str
    rule_id: str
    subject: str
    kind: str
    at: int
    detail: dict[str, Any]
    deliveries: list[Delivery] = field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        return {
            "alertId": self.alert_id,
            "ruleId": self.rule_id,
            "subject": self.subject,
            "kind": self.kind,
            "at": self.at,
            "detail": self.detail,
            "deliveries": [delivery.to_wire() for delivery in self.deliveries],
        }

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> HistoryEntry:
        deliveries = [
            Delivery(str(d["channel"]), str(d["status"]), int(d["attempts"]), d.get("error"))
            for d in raw.get("deliveries") or []
        ]
        return cls(
            str(raw["alertId"]),
            str(raw["ruleId"]),
            str(raw["subject"]),
            str(raw["kind"]),
            int(raw["at"]),
            dict(raw.get("detail") or {}),
            deliveries,
        )


def _describe(rule: Rule) -> str:
    return rule.name or f"{rule.type} ({rule.id})"


class AlertEngine:
    def __init__(
        self,
        data_dir: Path | None,
        config: AlertConfig,
        *,
        backend_id: str,
        secret: Secret,
        clock: Clock = wall_clock,
        sleep: Sleep = asyncio.sleep,
        schedules: Schedules | None = None,
    ) -> None:
        self.config = config
        self.backend_id = backend_id
        self.data_dir = data_dir
        self._secret = secret
        self._clock = clock
        self._sleep = sleep
        self.schedules: Schedules = schedules or dict
        self._windows = Windows()
        self._open: dict[tuple[str, str], OpenAlert] = {}
        self._history: deque[HistoryEntry] = deque(maxlen=HISTORY_LIMIT)
        self._limiter = RateLimiter()
        self._sending: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._dirty = False
        self.fired_at: dict[str, int] = {}
        """Alert id → when its firing notice was queued (wall ms): the bench reads it."""

    # ---- lifecycle --------------------------------------------------------------------------------

    @classmethod
    def open(cls, data_dir: Path, *, ephemeral: bool, backend_id: str, secret: Secret) -> AlertEngine:
        """Read ``alerts.json`` (raises ``InvalidAlertConfigError``) and the saved open alerts."""
        engine = cls(
            None if ephemeral else data_dir, alert_config.load(data_dir), backend_id=backend_id, secret=secret
        )
        engine._restore()
        return engine

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="alerts")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.drain()
        self._save()

    async def drain(self) -> None:
        """Wait for the notices being sent (tests and shutdown)."""
        while self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                self.evaluate()
                if self._dirty:
                    await asyncio.to_thread(self._save)
            except Exception as error:  # alerting must never take the backend down
                log.error("alert evaluation failed", error=repr(error))

    # ---- inputs -----------------------------------------------------------------------------------

    def observe(self, fact: RunFact) -> None:
        """A finished run: its figures go into the windows; failure rules are evaluated at once."""
        if not self.config.rules:
            return
        self._windows.add(fact)
        now = self._clock()
        for rule in self.config.rules:
            if rule.enabled and rule.type in _FAILURE_RULES and rule.watches(fact.workflow_id):
                self._apply(rule, breaches(rule, self._windows, now, {}), now, only=fact.workflow_id)

    def evaluate(self, now_ms: int | None = None) -> None:
        """Every rule against the windows and schedules at ``now_ms``; then reminders."""
        now = self._clock() if now_ms is None else now_ms
        schedules = self.schedules() if any(r.type == "scheduleMissed" for r in self.config.rules) else {}
        for rule in self.config.rules:
            if rule.enabled:
                self._apply(rule, breaches(rule, self._windows, now, schedules), now)
        self._remind(now)
        self._windows.prune(now)

    # ---- transitions ------------------------------------------------------------------------------

    def _apply(self, rule: Rule, found: Breaches, now: int, only: str | None = None) -> None:
        for subject, detail in found.items():
            key = (rule.id, subject)
            alert = self._open.get(key)
            if alert is not None:
                alert.detail = detail  # de-duplicated: the open alert only learns the latest figures
                continue
            alert = OpenAlert(f"alert_{secrets.token_hex(8)}", rule.id, subject, now, now, detail)
            self._open[key] = alert
            self.fired_at[alert.id] = wall_clock()
            self._notify(rule, alert, "firing", now)
        for key, alert in list(self._open.items()):
            if key[0] != rule.id or key[1] in found or (only is not None and key[1] != only):
                continue
            if rule.type in _FAILURE_RULES and key[1] not in self._windows.streaks:
                continue  # opened before a restart: no run of it seen since, so nothing says it cleared
            del self._open[key]
            self._notify(rule, alert, "resolved", now)

    def _remind(self, now: int) -> None:
        rules = {rule.id: rule for rule in self.config.rules}
        for key, alert in list(self._open.items()):
            rule = rules.get(alert.rule_id)
            if rule is None or not rule.enabled:  # the rule was removed or disabled: nothing to watch
                del self._open[key]
                closed = HistoryEntry(alert.id, alert.rule_id, alert.subject, "closed", now, alert.detail)
                self._record(closed)
                continue
            every = rule.remind_every_minutes
            if every is not None and now - alert.last_notice_at >= every * 60_000:
                alert.last_notice_at = now
                alert.reminders += 1
                self._notify(rule, alert, "reminder", now)

    # ---- notices ----------------------------------------------------------------------------------

    def _notice(self, rule: Rule, alert: OpenAlert, kind: str, now: int) -> Notice:
        label = _LABELS.get(kind, kind.upper())
        subject_line = f"[{label}] {_describe(rule)}: {alert.subject}"
        figures = "\n".join(f"  {name}: {value}" for name, value in sorted(alert.detail.items()))
        text = (
            f"Rule: {_describe(rule)} ({rule.type})\nSubject: {alert.subject}\nState: {kind}\n"
            f"Backend: {self.backend_id}\nAlert: {alert.id}\nOpened at (epoch ms): {alert.opened_at}\n"
            f"Figures:\n{figures}\n"
        )
        payload = {
            "kind": kind,
            "backendId": self.backend_id,
            "sentAt": now,
            "alert": alert.to_wire(),
            "rule": rule.to_wire(),
        }
        return Notice(kind, subject_line, text, payload)

    def _notify(self, rule: Rule, alert: OpenAlert, kind: str, now: int) -> None:
        entry = HistoryEntry(alert.id, rule.id, alert.subject, kind, now, dict(alert.detail))
        self._record(entry)
        notice = self._notice(rule, alert, kind, now)
        for channel_id in rule.channels:
            self._send(channel_id, notice, entry, now)

    def _send(self, channel_id: str, notice: Notice, entry: HistoryEntry, now: int) -> Delivery:
        delivery = Delivery(channel_id)
        entry.deliveries.append(delivery)
        channel = self.config.channel(channel_id)
        if channel is None:
            delivery.status, delivery.error = "failed", "no such channel"
            return delivery
        if not self._limiter.allow(channel, now):
            delivery.status = "rateLimited"
            return delivery
        task = asyncio.get_running_loop().create_task(self._deliver(channel, notice, delivery))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        return delivery

    async def _deliver(self, channel: Any, notice: Notice, delivery: Delivery) -> None:
        await deliver(channel, notice, delivery, self._secret, self._sleep)
        if delivery.status == "failed":
            log.warning("alert notice failed", channel=delivery.channel, error=delivery.error)
        self._dirty = True

    async def test_send(self, channel_id: str) -> dict[str, Any]:
        """Send a test notice through one channel now (no rate limit) and answer how it went."""
        channel = self.config.channel(channel_id)
        if channel is None:
            raise AlertNotFoundError("channel", channel_id)
        now = self._clock()
        subject = f"[TEST] noodl-sidecar alerts for backend {self.backend_id}"
        text = f"A test notice from backend {self.backend_id} through channel {channel_id}.\n"
        notice = Notice("test", subject, text, {"kind": "test", "backendId": self.backend_id, "sentAt": now})
        delivery = Delivery(channel_id)
        entry = HistoryEntry("test", "", channel_id, "test", now, {}, [delivery])
        self._record(entry)
        await deliver(channel, notice, delivery, self._secret, self._sleep)
        self._dirty = True
        return delivery.to_wire()

    # ---- reading and state ------------------------------------------------------------------------

    def _record(self, entry: HistoryEntry) -> None:
        self._history.append(entry)
        self._dirty = True

    def open_alerts(self) -> list[dict[str, Any]]:
        return [alert.to_wire() for alert in self._open.values()]

    def history(self, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first."""
        return [entry.to_wire() for entry in list(self._history)[::-1][:limit]]

    def replace_config(self, config: AlertConfig) -> None:
        """A saved change applies at once; alerts of removed or disabled rules close at the next tick."""
        self.config = config

    def _save(self) -> None:
        self._dirty = False
        if self.data_dir is None:
            return
        state = {
            "open": [alert.to_wire() for alert in self._open.values()],
            "history": [entry.to_wire() for entry in self._history],
        }
        write_json_atomic(self.data_dir / STATE_FILE, state, mode=0o600)

    def _restore(self) -> None:
        if self.data_dir is None:
            return
        try:
            raw = read_json(self.data_dir / STATE_FILE)
            if not isinstance(raw, dict):
                return
            for item in raw.get("open") or []:
                alert = OpenAlert.from_wire(item)
                self._open[(alert.rule_id, alert.subject)] = alert
            for item in raw.get("history") or []:
                self._history.append(HistoryEntry.from_wire(item))
        except (OSError, ValueError, KeyError, TypeError) as error:  # state is a cache: start afresh
            log.warning("alert state unreadable, starting without it", error=repr(error))
            self._open.clear()
            self._history.clear()
