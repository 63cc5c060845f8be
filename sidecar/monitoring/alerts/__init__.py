"""Alerting: rules over a backend's runs and schedules, notices by webhook and email, an alert history.

This package owns ``<dataDir>/alerts.json`` (rules and channels, :mod:`.config`), the conditions each rule
type watches (:mod:`.conditions`), sending through a channel with retries and rate limits
(:mod:`.channels`), and the :class:`AlertEngine` that opens, reminds and resolves alerts and keeps
``<dataDir>/alert-state.json`` (:mod:`.engine`). The monitoring service feeds the engine each finished run;
the doors (``alerts:*`` over IPC, ``/admin/alerts/*`` over HTTP) manage rules and channels through
:mod:`.manage`.
"""

from __future__ import annotations

from sidecar.monitoring.alerts.conditions import RunFact
from sidecar.monitoring.alerts.config import AlertConfig
from sidecar.monitoring.alerts.engine import AlertEngine

__all__ = ["AlertConfig", "AlertEngine", "RunFact"]
