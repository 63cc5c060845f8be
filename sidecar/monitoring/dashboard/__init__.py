"""The dashboard page of a backend (``GET /dashboard``): login by admin token, session cookie, charts of
the last 24 hours, the live feed, recent failures and an execution's waterfall.

It owns its routes (:mod:`.routes`), its sessions (:mod:`.sessions`) and its static files (``assets/``:
HTML, script and styles, no build step; ``assets/vendor/`` holds the uPlot chart library with its
licence). It reads what the monitoring service and the history already answer.
"""

from __future__ import annotations

from sidecar.monitoring.dashboard.routes import dashboard_routes

__all__ = ["dashboard_routes"]
