"""The monitoring door over HTTP: ``GET /admin/metrics`` (JSON), ``GET /metrics`` (Prometheus text), and
alert management under ``/admin/alerts`` (``sidecar.monitoring.alerts.manage``, as the ``alerts:*``
channels): ``GET /admin/alerts`` (open + history, ``?limit=``), ``GET /admin/alerts/config``,
``PUT``/``DELETE /admin/alerts/rules/{id}`` and ``/admin/alerts/channels/{id}``, and
``POST /admin/alerts/channels/{id}/test``; and ``GET /admin/monitoring/stream``, the per-second feed as
server-sent events (``?authToken=`` accepted, as for every event stream).

Both need the admin token (``Authorization: Bearer``, as every ``/admin`` route); ``/metrics`` also takes
the backend's ``scrapeToken`` from ``monitoring.json`` as a bearer token. A refused credential goes
through the door's failed-credential count like any other.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from types import ModuleType
from typing import Any

import orjson
from aiohttp import web

from sidecar.errors import InvalidAlertConfigError, InvalidMetricsQueryError
from sidecar.monitoring.live import LiveFeed
from sidecar.monitoring.prometheus import CONTENT_TYPE
from sidecar.monitoring.service import Monitoring
from sidecar.web.auth import require_admin
from sidecar.web.body import header_credentials
from sidecar.web.routes_backend import BackendRoutes, admin_only, json_body
from sidecar.web.settings import WebSettings
from sidecar.web.wire import json_response

_INTEGERS = ("from", "to")
_TICK_S = 0.5  # how soon a stream notices that its client left or the backend is stopping
_MAX_WAITING_FRAMES = 5
SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
}


def gone(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


async def feed_events(request: web.Request, feed: LiveFeed, closing: asyncio.Event) -> web.StreamResponse:
    """SSE: ``event: tick`` with each second's frame (``sidecar.monitoring.live``), until the client
    leaves or ``closing`` is set."""
    frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=_MAX_WAITING_FRAMES)

    def take(frame: dict[str, Any]) -> None:
        if frames.full():  # a reader this far behind wants the newest second, not a backlog
            frames.get_nowait()
        frames.put_nowait(frame)

    subscription = feed.subscribe(take)
    response = web.StreamResponse(headers=SSE_HEADERS)
    try:
        await response.prepare(request)
        await response.write(b": feed\n\n")
        while not closing.is_set() and not gone(request):
            try:
                frame = await asyncio.wait_for(frames.get(), timeout=_TICK_S)
            except TimeoutError:
                continue
            await response.write(b"event: tick\ndata: " + orjson.dumps(frame) + b"\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        feed.unsubscribe(subscription)
    return response


def _manage() -> ModuleType:
    """The alert operations, imported at the first alert call (a backend without alerts never loads them)."""
    from sidecar.monitoring.alerts import manage

    return manage


def monitoring_routes(monitoring: Callable[[], Monitoring | None], settings: WebSettings) -> BackendRoutes:
    """``monitoring`` gives the backend's current :class:`Monitoring` (None while it is stopped)."""
    closing = asyncio.Event()

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

    async def alerts_list(request: web.Request) -> web.StreamResponse:
        limit = request.query.get("limit", "100")
        if not limit.isdigit():
            raise InvalidAlertConfigError("limit is invalid", ["limit: a positive integer"])
        return json_response(_manage().list_alerts(current().alerts, int(limit)))

    async def alerts_config(_request: web.Request) -> web.StreamResponse:
        return json_response(_manage().get_config(current().alerts))

    def with_id(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
        item_id = request.match_info["id"]
        if body.get("id", item_id) != item_id:
            raise InvalidAlertConfigError("the body's id differs from the URL's", [f"id: {item_id} expected"])
        return {**body, "id": item_id}

    async def put_rule(request: web.Request) -> web.StreamResponse:
        return json_response(_manage().put_rule(current().alerts, with_id(request, await json_body(request))))

    async def delete_rule(request: web.Request) -> web.StreamResponse:
        return json_response(_manage().delete_rule(current().alerts, request.match_info["id"]))

    async def put_channel(request: web.Request) -> web.StreamResponse:
        return json_response(
            _manage().put_channel(current().alerts, with_id(request, await json_body(request)))
        )

    async def delete_channel(request: web.Request) -> web.StreamResponse:
        return json_response(_manage().delete_channel(current().alerts, request.match_info["id"]))

    async def test_channel(request: web.Request) -> web.StreamResponse:
        return json_response(await _manage().test_send(current().alerts, request.match_info["id"]))

    async def feed_stream(request: web.Request) -> web.StreamResponse:
        return await feed_events(request, current().live, closing)

    guarded = [
        web.get("/admin/metrics", admin_metrics),
        web.get("/admin/alerts", alerts_list),
        web.get("/admin/alerts/config", alerts_config),
        web.put("/admin/alerts/rules/{id}", put_rule),
        web.delete("/admin/alerts/rules/{id}", delete_rule),
        web.put("/admin/alerts/channels/{id}", put_channel),
        web.delete("/admin/alerts/channels/{id}", delete_channel),
        web.post("/admin/alerts/channels/{id}/test", test_channel),
    ]
    routes = [web.route(r.method, r.path, admin_only(settings, r.handler)) for r in guarded]
    stream = web.get("/admin/monitoring/stream", admin_only(settings, feed_stream, event_stream=True))
    return BackendRoutes([*routes, stream, web.get("/metrics", scrape)], closing.set)


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
