"""The composition root of the HTTP door: settings + store (+ function invoker) → an aiohttp app."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from sidecar.web import (
    routes_admin,
    routes_aggregate,
    routes_files,
    routes_functions,
    routes_objects,
    routes_users,
)
from sidecar.web.auth import ApiKeyDirectory
from sidecar.web.configparams import ConfigParams
from sidecar.web.dispatch import ParseDoor
from sidecar.web.filestore import FileStore
from sidecar.web.limiter import CredentialLimiter
from sidecar.web.limits import BodyLimits
from sidecar.web.realtime.hub import RealtimeHub
from sidecar.web.realtime.sse import RealtimeRoutes
from sidecar.web.security import cors_hook, door_middleware
from sidecar.web.services import DataStore, FunctionInvoker, Services
from sidecar.web.settings import WebSettings
from sidecar.web.wire import json_response

ROUTES = [
    *routes_users.ROUTES,  # before the /users/:objectId aliases, so /users/me wins
    *routes_objects.ROUTES,
    *routes_admin.ROUTES,
    *routes_aggregate.ROUTES,
    *routes_functions.ROUTES,
    *routes_files.ROUTES,
]
HealthReport = Callable[[], Mapping[str, Any]]
"""Builds the ``/health`` body; called on every probe, so it must be cheap and never raise."""


def build_app(
    store: DataStore,
    settings: WebSettings,
    functions: FunctionInvoker | None = None,
    *,
    health: HealthReport | None = None,
    routes: Sequence[web.AbstractRouteDef] = (),
    api_keys: ApiKeyDirectory | None = None,
) -> web.Application:
    """The Parse routes under ``settings.mount``, ``/health``, file downloads and ``/realtime``.

    ``health`` supplies the ``/health`` body (the backend's status); without it the
    door answers a minimal one. ``routes`` (the backend's admin routes, webhooks) are matched before
    the Parse routes, whose last pattern catches every other path. ``api_keys`` resolves
    ``X-NodeGX-Api-Key`` principals (without it a key is refused). One failed-credential count covers
    every route, ``routes`` included (the door's middleware keeps it). The app subscribes to the store's
    changes on startup and ends open SSE streams on shutdown; the caller owns the store (opens and
    closes it)."""
    limiter = CredentialLimiter(settings.credential_failures_allowed, settings.credential_window_seconds)
    services = Services(
        store=store,
        settings=settings,
        config=ConfigParams(settings.config_path),
        files=FileStore(settings.files_dir) if settings.files_dir is not None else None,
        functions=functions,
        api_keys=api_keys,
    )
    app = web.Application(
        # Every route, the backend's own included, reads its body within the door's limits.
        middlewares=[door_middleware(settings, limiter)],
        client_max_size=BodyLimits(settings).default,
    )
    hub = RealtimeHub(settings.realtime_queue_size, store.visible_record)
    app.router.add_routes(routes)
    _add_routes(app, services, hub, health or _minimal_health(settings))
    app.on_response_prepare.append(cors_hook(settings))
    _manage_subscription(app, store, hub)
    return app


def _minimal_health(settings: WebSettings) -> HealthReport:
    started = time.monotonic()

    def report() -> Mapping[str, Any]:
        return {
            "status": "ok",
            "ok": True,
            "service": settings.service_name,
            "backendId": settings.app_id,
            "uptimeMs": int((time.monotonic() - started) * 1000),
        }

    return report


def _add_routes(app: web.Application, services: Services, hub: RealtimeHub, report: HealthReport) -> None:
    prefix = services.settings.mount_prefix

    async def health(request: web.Request) -> web.Response:
        return json_response(report())

    async def download(request: web.Request) -> web.StreamResponse:
        return routes_files.download_response(services.files, request.match_info["name"])

    realtime = RealtimeRoutes(services, hub)
    door = ParseDoor(services, ROUTES)
    router = app.router
    router.add_get(f"{prefix}/health", health)
    router.add_get(f"{prefix}/files/{{appId}}/{{name}}", download)
    router.add_get(f"{prefix}/files/{{name}}", download)
    router.add_get(f"{prefix}/realtime", realtime.stream)
    router.add_post(f"{prefix}/realtime/subscriptions", realtime.subscribe)
    router.add_route("*", f"{prefix}/{{tail:.*}}", door.handle)


def _manage_subscription(app: web.Application, store: DataStore, hub: RealtimeHub) -> None:
    async def subscribe(app: web.Application) -> None:
        subscription = store.subscribe(hub.publish)

        async def unsubscribe(app: web.Application) -> None:
            subscription.close()
            hub.end_all()

        app.on_shutdown.append(unsubscribe)

    app.on_startup.append(subscribe)
