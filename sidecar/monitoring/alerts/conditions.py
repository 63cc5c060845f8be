"""What each rule type watches, and whether it holds now: pure state, no I/O, time passed in (epoch ms).

Finished runs arrive as :class:`RunFact`; each workflow keeps per-minute cells (runs, errors, rejected
fires, a mergeable duration histogram) for as long as the longest rule window, so a window's error rate or
p95 is a sum of at most 1,440 cells whatever the traffic. Rejected webhook fires count only for
``webhookRejected``: a fire refused at the door is not a run of the workflow.

A condition answers the subjects that breach it now, each with the figures that say why; the engine
(``sidecar.monitoring.alerts.engine``) turns a subject appearing into an alert, and disappearing into a
resolve notice. ``workflowFailed`` and ``consecutiveFailures`` breach from a failed run until the next
success of the same workflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sidecar.monitoring.alerts.config import (
    ConsecutiveFailuresRule,
    ErrorRateRule,
    P95AboveRule,
    Rule,
    ScheduleMissedRule,
    WebhookRejectedRule,
    WorkflowFailedRule,
)
from sidecar.monitoring.sketch import Histogram

MINUTE_MS = 60_000
MAX_WINDOW_MINUTES = 1440

Breaches = dict[str, dict[str, Any]]
"""Subject (a workflow or trigger id) → the figures that make it breach."""


@dataclass(frozen=True, slots=True)
class RunFact:
    """One finished run, as alerting needs it."""

    execution_id: str
    workflow_id: str
    status: str
    """``success`` or anything else (a failure)."""
    duration_ms: int
    at_ms: int
    """When it finished."""
    rejected: bool = False
    """A trigger fire refused before it reached its function (``metadata.rejected``)."""
    trigger_type: str = ""
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.status != "success"


@dataclass(slots=True)
class _Minute:
    runs: int = 0
    errors: int = 0
    rejected: int = 0
    histogram: Histogram = field(default_factory=Histogram)


@dataclass(slots=True)
class WindowTotals:
    runs: int = 0
    errors: int = 0
    rejected: int = 0
    histogram: Histogram = field(default_factory=Histogram)


class Windows:
    """Per workflow, per minute: what finished in it."""

    def __init__(self) -> None:
        self._cells: dict[str, dict[int, _Minute]] = {}
        self.streaks: dict[str, int] = {}
        """Failures in a row per workflow (0 after a success)."""
        self.last_failure: dict[str, RunFact] = {}
        self.failing: set[str] = set()
        """Workflows whose latest run failed."""

    def add(self, fact: RunFact) -> None:
        minute = fact.at_ms // MINUTE_MS
        cells = self._cells.setdefault(fact.workflow_id, {})
        cell = cells.get(minute)
        if cell is None:
            cell = cells[minute] = _Minute()
        if fact.rejected:
            cell.rejected += 1
            return
        cell.runs += 1
        cell.histogram.add(fact.duration_ms)
        if fact.failed:
            cell.errors += 1
            self.streaks[fact.workflow_id] = self.streaks.get(fact.workflow_id, 0) + 1
            self.last_failure[fact.workflow_id] = fact
            self.failing.add(fact.workflow_id)
        else:
            self.streaks[fact.workflow_id] = 0
            self.failing.discard(fact.workflow_id)

    def workflows(self) -> Iterable[str]:
        return list(self._cells)

    def totals(self, workflow_id: str, now_ms: int, minutes: int) -> WindowTotals:
        """The last ``minutes`` minutes up to ``now_ms`` (the current minute included)."""
        first = now_ms // MINUTE_MS - minutes + 1
        totals = WindowTotals()
        for minute, cell in self._cells.get(workflow_id, {}).items():
            if minute >= first:
                totals.runs += cell.runs
                totals.errors += cell.errors
                totals.rejected += cell.rejected
                totals.histogram.merge(cell.histogram)
        return totals

    def prune(self, now_ms: int, keep_minutes: int = MAX_WINDOW_MINUTES) -> None:
        first = now_ms // MINUTE_MS - keep_minutes
        for workflow_id in list(self._cells):
            cells = self._cells[workflow_id]
            for minute in [m for m in cells if m < first]:
                del cells[minute]
            if not cells:
                del self._cells[workflow_id]


def breaches(rule: Rule, windows: Windows, now_ms: int, schedules: Mapping[str, float]) -> Breaches:
    """The subjects for which ``rule`` holds at ``now_ms``. ``schedules`` maps each armed schedule
    trigger to the epoch seconds of its next fire (a fire moves it on)."""
    found: Breaches = {}
    if isinstance(rule, ScheduleMissedRule):
        for trigger_id, due_s in schedules.items():
            if rule.triggers is not None and trigger_id not in rule.triggers:
                continue
            late_ms = now_ms - int(due_s * 1000)
            if late_ms > rule.grace_seconds * 1000:
                found[trigger_id] = {"dueAt": int(due_s * 1000), "lateSeconds": late_ms // 1000}
        return found
    if isinstance(rule, WorkflowFailedRule | ConsecutiveFailuresRule):
        for workflow_id in list(windows.failing):
            if not rule.watches(workflow_id):
                continue
            streak = windows.streaks.get(workflow_id, 0)
            if isinstance(rule, ConsecutiveFailuresRule) and streak < rule.count:
                continue
            last = windows.last_failure[workflow_id]
            found[workflow_id] = {
                "consecutiveFailures": streak,
                "executionId": last.execution_id,
                "error": last.error,
            }
        return found
    for workflow_id in windows.workflows():
        if not rule.watches(workflow_id):
            continue
        totals = windows.totals(workflow_id, now_ms, rule.window_minutes)
        if isinstance(rule, ErrorRateRule):
            if totals.runs >= rule.min_runs and totals.runs:
                percent = 100.0 * totals.errors / totals.runs
                if percent > rule.threshold_percent:
                    found[workflow_id] = {
                        "runs": totals.runs,
                        "errors": totals.errors,
                        "errorPercent": percent,
                    }
        elif isinstance(rule, P95AboveRule):
            p95 = totals.histogram.quantile(0.95)
            if totals.runs >= rule.min_runs and p95 is not None and p95 > rule.threshold_ms:
                found[workflow_id] = {"runs": totals.runs, "p95Ms": p95}
        elif isinstance(rule, WebhookRejectedRule) and totals.rejected > rule.count:
            found[workflow_id] = {"rejected": totals.rejected}
    return found
