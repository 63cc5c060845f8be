"""The monitoring door over HTTP: ``GET /admin/metrics`` (JSON) and ``GET /metrics`` (Prometheus text).

Both need the admin token (``Authorization: Bearer``, as every ``/admin`` route); ``/metrics`` also takes
the backend's ``scrapeToken`` from ``monitoring.json`` as a bearer token. A refused credential goes
through the door's failed-credential count like any other.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from aiohttp import web

from sidecar.errors import InvalidMetricsQueryError
from sidecar.monitoring.prometheus import CONTENT_TYPE
from sidecar.monitoring.service import Monitoring
from sidecar.web.auth import require_admin
from sidecar.web.body import header_credentials
from sidecar.web.routes_backend import admin_only
from sidecar.web.settings import WebSettings
from sidecar.web.wire import json_response

_INTEGERS = ("from", "to")


def monitoring_routes(
    monitoring: Callable[[], Monitoring | None], settings: WebSettings
) -> list[web.RouteDef]:
    """``monitoring`` gives the backend's current :class:`Monitoring` (None while it is stopped)."""

    def current() -> Monitoring:
        found = monitoring()
        if found is None:
            raise web.HTTPServiceUnavailable()
        return found

    async def admin_metrics(request: web.Request) -> web.StreamResponse:
        return json_response(await current().metrics(query_params(request.query)))

    async def scrape(request: web.Request) -> web.StreamResponse:
        found = current()
        bearer = header_credentials(request.headers).bearer
        token = found.config.scrape_token
        if not (token is not None and bearer is not None and hmac.compare_digest(bearer, token)):
            require_admin(header_credentials(request.headers), settings)
        return web.Response(body=found.exporter.render(), headers={"Content-Type": CONTENT_TYPE})

    return [web.get("/admin/metrics", admin_only(settings, admin_metrics)), web.get("/metrics", scrape)]


def query_params(query: Any) -> dict[str, Any]:
    """The URL's query string as a metrics query: integers for the range, ``groupBy`` comma-separated,
    ``nodes`` true/false; anything unknown is refused by ``MetricsQuery.from_wire``."""
    params: dict[str, Any] = {}
    for key, value in query.items():
        if key in _INTEGERS:
            if not value.isdigit():
                raise InvalidMetricsQueryError(f"'{key}' must be a non-negative integer (epoch milliseconds)")
            params[key] = int(value)
        elif key == "groupBy":
            params[key] = [item for item in value.split(",") if item]
        elif key == "nodes":
            if value not in ("true", "false"):
                raise InvalidMetricsQueryError("'nodes' must be true or false")
            params[key] = value == "true"
        else:  # bucket, workflowId, triggerType; an unknown key is refused by the query, by name
            params[key] = value
    return params
