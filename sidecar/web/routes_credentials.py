"""The credential routes (admin only): the same operations as the ``credentials:*`` channels.

GET    /admin/credentials               {credentials: [{name, provider, createdAt, updatedAt, lastTest, env}]}
POST   /admin/credentials               {name, value, provider?, replace?} → 201, the entry without value
POST   /admin/credentials/{name}/test   {name, provider, status, message, testedAt}
DELETE /admin/credentials/{name}        {deleted: true, name}
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from sidecar.credentials import CredentialStore
from sidecar.web.routes_backend import admin_only, json_body
from sidecar.web.settings import WebSettings
from sidecar.web.wire import json_response


def credential_routes(data_dir: Path, settings: WebSettings) -> list[web.RouteDef]:
    handlers = _CredentialRoutes(CredentialStore(data_dir))
    table = [
        web.get("/admin/credentials", handlers.list),
        web.post("/admin/credentials", handlers.create),
        web.post("/admin/credentials/{name}/test", handlers.test),
        web.delete("/admin/credentials/{name}", handlers.delete),
    ]
    return [web.route(route.method, route.path, admin_only(settings, route.handler)) for route in table]


class _CredentialRoutes:
    def __init__(self, store: CredentialStore) -> None:
        self.store = store

    # The store's calls run in a thread: reaching the key may mean asking an OS keyring, which can block.

    async def list(self, _request: web.Request) -> web.StreamResponse:
        found = await asyncio.to_thread(self.store.list)
        return json_response({"credentials": [info.to_wire() for info in found]})

    async def create(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        info = await asyncio.to_thread(
            self.store.create,
            body.get("name"),
            body.get("value"),
            body.get("provider"),
            replace=body.get("replace") is True,
        )
        return json_response(info.to_wire(), 201)

    async def test(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.store.test(request.match_info["name"]))

    async def delete(self, request: web.Request) -> web.StreamResponse:
        return json_response(await asyncio.to_thread(self.store.delete, request.match_info["name"]))
