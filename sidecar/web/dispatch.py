"""The Parse door's one entry handler: read and parse the request, find its route, authenticate, run the
handler, encode the reply. Also routes ``/batch`` sub-requests through the same table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from aiohttp import web

from sidecar.errors import MasterKeyRequiredError, RouteNotFoundError
from sidecar.store import CallerContext
from sidecar.web.auth import check_key_scope, resolve_caller
from sidecar.web.body import WireRequest, build_wire_request, decode_json_object
from sidecar.web.file_urls import fill_file_urls
from sidecar.web.router import Access, Call, Route, Router
from sidecar.web.routes_batch import make_batch_route
from sidecar.web.routes_files import file_url
from sidecar.web.services import Services
from sidecar.web.wire import Reply, reply_response

_ANONYMOUS = CallerContext.anonymous()
_HEADER_CREDENTIALS = ("X-Parse-Application-Id", "X-Parse-Master-Key", "Authorization")


ROUTE_PATTERN = web.RequestKey("parse_route_pattern", str)
"""The Parse route a request matched (``/classes/:className``…), behind the door's catch-all."""


class ParseDoor:
    def __init__(self, services: Services, routes: Iterable[Route]) -> None:
        self._services = services
        self._router = Router([*routes, make_batch_route(self.run_sub_request, self._can_route)])

    async def handle(self, request: web.Request) -> web.StreamResponse:
        settings = self._services.settings
        path = request.path[len(settings.mount_prefix) :] or "/"
        upload = request.method == "POST" and (path == "/files" or path.startswith("/files/"))
        raw = await request.read()  # within the route's limit (the door's middleware, sidecar.web.limits)
        # A REST upload carries its credentials in headers and sends raw bytes; the SDK's form is JSON.
        raw_upload = upload and any(name in request.headers for name in _HEADER_CREDENTIALS)
        wire = build_wire_request(request, path, raw, None if raw_upload else decode_json_object(raw))
        match = self._router.match(wire.method, wire.path)
        request[ROUTE_PATTERN] = match.route.pattern  # metrics label requests by pattern, not by path
        caller = await self._authenticate(match.route, wire)
        call = Call(
            services=self._services,
            method=wire.method,
            args=match.args,
            params=wire.params,
            caller=caller,
            credentials=wire.credentials,
            base_url=f"{request.scheme}://{request.host}{settings.mount_prefix}",
            raw=raw,
            content_type=wire.content_type,
            headers=request.headers,
        )
        reply = await match.route.handler(call)
        if self._services.store.has_file_fields():
            fill_file_urls(reply.body, lambda name: file_url(call, name))
        return reply_response(reply)

    async def _authenticate(self, route: Route, wire: WireRequest) -> CallerContext:
        """A failing credential raises; the door's middleware counts it (sidecar.web.limiter)."""
        if route.access is Access.PUBLIC:
            return _ANONYMOUS
        services = self._services
        credentials, method = wire.credentials, wire.method
        caller = await resolve_caller(
            credentials, services.settings, services.store, services.api_keys, use_session=route.use_session
        )
        if route.access is Access.MASTER and not caller.is_master:
            raise MasterKeyRequiredError()
        check_key_scope(caller, method, route.pattern)
        return caller

    def _can_route(self, method: str, path: str) -> bool:
        try:
            self._router.match(method, path)
        except RouteNotFoundError:
            return False
        return True

    async def run_sub_request(self, call: Call, method: str, path: str, body: dict[str, Any]) -> Reply:
        """One ``/batch`` item, with the batch's caller."""
        match = self._router.match(method, path)
        if match.route.access is Access.MASTER and not call.caller.is_master:
            raise MasterKeyRequiredError()
        check_key_scope(call.caller, method, match.route.pattern)
        return await match.route.handler(replace(call, method=method, args=match.args, params=body))
