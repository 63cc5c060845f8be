"""``GET /dashboard``: a backend's monitoring page for people, served by the backend itself.

Routes (all under ``/dashboard``):

- ``GET /dashboard`` — the login page, or with a valid session the dashboard (its CSRF token in a
  ``<meta>``); ``GET /dashboard/static/…`` — its script, styles and the vendored chart library.
- ``POST /dashboard/login`` — JSON ``{"token": "<admin token>"}`` → session cookie. A wrong token is a 401
  counted by the door's failed-credential limiter like any other. Only JSON is taken (a cross-site form
  cannot send it) and a foreign ``Origin`` is refused: no login CSRF.
- ``POST /dashboard/logout`` — needs the session's ``X-CSRF-Token``.
- ``GET /dashboard/api/metrics`` (the ``/admin/metrics`` query), ``/api/failures`` (latest failed
  executions), ``/api/executions/{id}`` (one execution with its steps, for the waterfall) and
  ``/api/feed`` (the per-second feed, SSE) — read-only, session cookie required (401 without).

Every answer carries a Content-Security-Policy that allows only this origin's scripts, styles and
connections (nothing inline, no third party: the page works offline) and forbids framing.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from aiohttp import web

from sidecar.errors import AdminCredentialMissingError, InvalidParamsError, OperationForbiddenError
from sidecar.monitoring.dashboard.sessions import COOKIE, MAX_SECONDS, Session, Sessions
from sidecar.monitoring.routes import feed_events, query_params
from sidecar.web.auth import require_admin
from sidecar.web.body import decode_json_object, header_credentials
from sidecar.web.routes_backend import BackendRoutes
from sidecar.web.settings import WebSettings
from sidecar.web.wire import json_response

ASSETS = Path(__file__).parent / "assets"
_STATIC_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".txt": "text/plain",
    ".md": "text/plain",
    ".LICENSE": "text/plain",
}
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
FAILURES_SHOWN = 20


class DashboardBackend(Protocol):
    """What the dashboard reads (``sidecar.backends.backend.Backend``)."""

    monitoring: Any
    history: Any


def _asset(name: str) -> bytes:
    return (ASSETS / name).read_bytes()


def dashboard_routes(backend: DashboardBackend, settings: WebSettings) -> BackendRoutes:
    sessions = Sessions()
    closing = asyncio.Event()

    def session_of(request: web.Request) -> Session | None:
        return sessions.get(request.cookies.get(COOKIE))

    def require_session(request: web.Request) -> Session:
        session = session_of(request)
        if session is None:
            raise AdminCredentialMissingError()
        return session

    def same_origin(request: web.Request) -> None:
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            raise OperationForbiddenError("cross-origin request refused")

    def service(name: str) -> Any:
        found = getattr(backend, name)
        if found is None:
            raise web.HTTPServiceUnavailable()
        return found

    async def page(request: web.Request) -> web.StreamResponse:
        session = session_of(request)
        if session is None:
            return web.Response(body=_asset("login.html"), content_type="text/html", headers=_HEADERS)
        html = _asset("dashboard.html").replace(b"{{csrf}}", session.csrf.encode())
        return web.Response(body=html, content_type="text/html", headers=_HEADERS)

    async def static(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = (ASSETS / name).resolve()
        if ASSETS.resolve() not in path.parents or not path.is_file() or path.suffix not in _STATIC_TYPES:
            raise web.HTTPNotFound()
        headers = {**_HEADERS, "Cache-Control": "public, max-age=3600"}
        return web.Response(body=path.read_bytes(), content_type=_STATIC_TYPES[path.suffix], headers=headers)

    async def login(request: web.Request) -> web.StreamResponse:
        same_origin(request)
        if request.content_type != "application/json":
            raise InvalidParamsError("login takes a JSON body {token}")
        body = decode_json_object(await request.read())
        token = body.get("token")
        if not isinstance(token, str) or not token:
            raise InvalidParamsError("login takes a JSON body {token}")
        # A wrong token raises BadCredentialError: 401, counted by the door's limiter.
        require_admin(replace(header_credentials(request.headers), bearer=token, master_key=None), settings)
        session_id, _session = sessions.create()
        response = json_response({"ok": True})
        response.set_cookie(
            COOKIE,
            session_id,
            path="/dashboard",
            httponly=True,
            samesite="Strict",
            secure=request.secure,
            max_age=MAX_SECONDS,
        )
        return response

    async def logout(request: web.Request) -> web.StreamResponse:
        same_origin(request)
        session = require_session(request)
        if not Sessions.csrf_ok(session, request.headers.get("X-CSRF-Token")):
            raise OperationForbiddenError("missing or wrong CSRF token")
        sessions.end(request.cookies.get(COOKIE))
        response = json_response({"ok": True})
        response.del_cookie(COOKIE, path="/dashboard")
        return response

    async def metrics(request: web.Request) -> web.StreamResponse:
        require_session(request)
        return json_response(await service("monitoring").metrics(query_params(request.query)))

    async def failures(request: web.Request) -> web.StreamResponse:
        require_session(request)
        found = await service("history").list_executions({"status": "error", "limit": FAILURES_SHOWN})
        return json_response(found)

    async def execution(request: web.Request) -> web.StreamResponse:
        require_session(request)
        found = await service("history").get_execution(request.match_info["id"])
        if found is None:
            return json_response({"error": "Execution not found"}, 404)
        return json_response(found)

    async def feed(request: web.Request) -> web.StreamResponse:
        require_session(request)
        return await feed_events(request, service("monitoring").live, closing)

    def close() -> None:
        closing.set()
        sessions.clear()

    routes = [
        web.get("/dashboard", page),
        web.get("/dashboard/static/{name:.+}", static),
        web.post("/dashboard/login", login),
        web.post("/dashboard/logout", logout),
        web.get("/dashboard/api/metrics", metrics),
        web.get("/dashboard/api/failures", failures),
        web.get("/dashboard/api/executions/{id}", execution),
        web.get("/dashboard/api/feed", feed),
    ]
    return BackendRoutes(routes, close)
