"""Render's REST API (``/v1``) as a local contract server, from Render's public reference: owners,
registry credentials, services (``{service, deployId}`` on create), env vars, deploys and custom domains;
lists cursor-paginated as ``[{cursor, <object>}]``; errors ``{id, message}``; 401 without the key.

A deploy is a real ``serve`` process (``runner.py``) pulled with the service's registry credential:
``created`` → ``update_in_progress`` → ``live`` once ``healthCheckPath`` answers 200 (the previous live
deploy becomes ``deactivated``), or ``update_failed`` (the previous one stays live). ``/_edge/<service
name>/...`` stands in for ``<name>.onrender.com``.

Scripts: :meth:`fail` (status, ``Ratelimit-Reset``), ``crash_next_starts``, ``page_size``,
``certificate_checks`` (looks before a custom domain is ``verified``; ``certificate_outcome = "failed"``
keeps it ``unverified``, as Render has no failed state).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.deploy.contract.registry import Handler
from tests.deploy.contract.runner import Unit, proxy, start_unit, stop_unit


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"id": str(status), "message": message}, status=status)


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


@dataclass
class Deploy:
    id: str
    unit: Unit
    status: str = "created"


@dataclass
class Service:
    id: str
    name: str
    owner: str
    image: dict[str, Any]
    details: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    deploys: dict[str, Deploy] = field(default_factory=dict)
    domains: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "type": "web_service", "ownerId": self.owner,
            "imagePath": self.image.get("imagePath"),
            "serviceDetails": {**self.details, "url": f"https://{self.name}.onrender.com"},
        }  # fmt: skip


class RenderContract:
    def __init__(self, token: str, workdir: Path) -> None:
        self.token = token
        self.workdir = workdir
        self.owner = {"id": "tea-" + uuid.uuid4().hex[:20], "name": "My Workspace", "type": "team"}
        self.credentials: dict[str, dict[str, Any]] = {}
        self.services: dict[str, Service] = {}
        self.calls: list[tuple[str, str, int]] = []
        self._scripted: list[tuple[str, re.Pattern[str], int, dict[str, str]]] = []
        self.crash_next_starts = 0
        self.page_size = 100
        self.certificate_checks = 2
        self.certificate_outcome = "issued"
        self._tasks: set[asyncio.Task[None]] = set()
        self.app = web.Application(middlewares=[self._middleware])
        routes = [
            ("GET", "/v1/owners", self._owners),
            ("GET", "/v1/registrycredentials", self._list_credentials),
            ("POST", "/v1/registrycredentials", self._create_credential),
            ("PATCH", "/v1/registrycredentials/{id}", self._update_credential),
            ("GET", "/v1/services", self._list_services),
            ("POST", "/v1/services", self._create_service),
            ("GET", "/v1/services/{id}", self._get_service),
            ("PATCH", "/v1/services/{id}", self._update_service),
            ("GET", "/v1/services/{id}/env-vars", self._list_env),
            ("PUT", "/v1/services/{id}/env-vars/{key}", self._put_env),
            ("DELETE", "/v1/services/{id}/env-vars/{key}", self._delete_env),
            ("POST", "/v1/services/{id}/deploys", self._trigger_deploy),
            ("GET", "/v1/services/{id}/deploys/{deploy}", self._get_deploy),
            ("POST", "/v1/services/{id}/custom-domains", self._add_domain),
            ("GET", "/v1/services/{id}/custom-domains/{name}", self._get_domain),
            ("POST", "/v1/services/{id}/custom-domains/{name}/verify", self._verify_domain),
        ]
        for method, path, handler in routes:
            self.app.router.add_route(method, path, handler)
        self.app.router.add_route("*", "/_edge/{name}/{tail:.*}", self._edge)
        self.app.on_shutdown.append(self._stop_all)

    def fail(
        self, method: str, pattern: str, status: int, *, times: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        self._scripted += [(method, re.compile(pattern), status, headers or {})] * times

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_edge/"):
            return await handler(request)
        status = 0
        try:
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                status = 401
                return _error(401, "unauthorized")
            for index, (method, pattern, code, headers) in enumerate(self._scripted):
                if method == request.method and pattern.search(request.path):
                    del self._scripted[index]
                    status = code
                    message = "rate limit exceeded" if code == 429 else "service unavailable"
                    return web.json_response(
                        {"id": str(code), "message": message}, status=code, headers=headers
                    )
            reply = await handler(request)
            status = reply.status
            return reply
        finally:
            self.calls.append((request.method, request.path, status))

    def _page(self, request: web.Request, items: list[dict[str, Any]], key: str) -> web.Response:
        limit = min(int(request.query.get("limit", "20")), self.page_size)
        start = int(request.query.get("cursor") or 0)
        page = items[start : start + limit]
        return web.json_response([{"cursor": str(start + i + 1), key: item} for i, item in enumerate(page)])

    def _service(self, request: web.Request) -> Service:
        service = self.services.get(request.match_info["id"])
        if service is None:
            raise web.HTTPNotFound(
                text='{"id": "404", "message": "service not found"}', content_type="application/json"
            )
        return service

    # ---- owners and registry credentials ---------------------------------------------------

    async def _owners(self, request: web.Request) -> web.Response:
        return self._page(request, [self.owner], "owner")

    async def _list_credentials(self, request: web.Request) -> web.Response:
        return self._page(
            request,
            [{k: v for k, v in c.items() if k != "authToken"} for c in self.credentials.values()],
            "registryCredential",
        )

    async def _create_credential(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not all(body.get(key) for key in ("registry", "name", "username", "authToken")):
            return _error(400, "registry, name, username and authToken are required")
        credential = {"id": _id("rgc"), **body}
        self.credentials[credential["id"]] = credential
        return web.json_response({k: v for k, v in credential.items() if k != "authToken"}, status=201)

    async def _update_credential(self, request: web.Request) -> web.Response:
        credential = self.credentials.get(request.match_info["id"])
        if credential is None:
            return _error(404, "registry credential not found")
        credential.update(await request.json())
        return web.json_response({k: v for k, v in credential.items() if k != "authToken"})

    # ---- services, env vars ----------------------------------------------------------------

    async def _list_services(self, request: web.Request) -> web.Response:
        name = request.query.get("name")
        items = [s.to_json() for s in self.services.values() if name in (None, s.name)]
        return self._page(request, items, "service")

    async def _create_service(self, request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("type") != "web_service" or not (body.get("image") or {}).get("imagePath"):
            return _error(400, "type web_service and image.imagePath are required")
        if any(service.name == body.get("name") for service in self.services.values()):
            return _error(409, "a service with this name exists")
        service = Service(
            _id("srv"),
            str(body["name"]),
            str(body["ownerId"]),
            dict(body["image"]),
            dict(body.get("serviceDetails") or {}),
        )
        service.env = {str(item["key"]): str(item["value"]) for item in body.get("envVars") or []}
        self.services[service.id] = service
        deploy = self._deploy(service)
        return web.json_response({"service": service.to_json(), "deployId": deploy.id}, status=201)

    async def _get_service(self, request: web.Request) -> web.Response:
        return web.json_response(self._service(request).to_json())

    async def _update_service(self, request: web.Request) -> web.Response:
        service = self._service(request)
        body = await request.json()
        if "image" in body:
            service.image.update(body["image"])
        return web.json_response(service.to_json())

    async def _list_env(self, request: web.Request) -> web.Response:
        items = [{"key": key, "value": value} for key, value in sorted(self._service(request).env.items())]
        return self._page(request, items, "envVar")

    async def _put_env(self, request: web.Request) -> web.Response:
        service = self._service(request)
        body = await request.json()
        if not isinstance(body.get("value"), str):
            return _error(400, "value is required")
        service.env[request.match_info["key"]] = body["value"]
        return web.json_response({"key": request.match_info["key"], "value": body["value"]})

    async def _delete_env(self, request: web.Request) -> web.Response:
        if self._service(request).env.pop(request.match_info["key"], None) is None:
            return _error(404, "env var not found")
        return web.Response(status=204)

    # ---- deploys ---------------------------------------------------------------------------

    async def _trigger_deploy(self, request: web.Request) -> web.Response:
        service = self._service(request)
        body = await request.json() if request.can_read_body else {}
        if body.get("imageUrl"):
            service.image["imagePath"] = body["imageUrl"]
        deploy = self._deploy(service)
        return web.json_response({"id": deploy.id, "status": deploy.status}, status=201)

    def _deploy(self, service: Service) -> Deploy:
        deploy = Deploy(_id("dep"), Unit(_id("unit"), str(service.image["imagePath"])))
        service.deploys[deploy.id] = deploy
        env = dict(service.env)
        if self.crash_next_starts > 0:
            self.crash_next_starts -= 1
            env = {}
        credential = self.credentials.get(str(service.image.get("registryCredentialId")), {})
        login = (str(credential.get("username", "")), str(credential.get("authToken", "")))
        task = asyncio.get_running_loop().create_task(self._run(service, deploy, login, env))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return deploy

    async def _run(
        self, service: Service, deploy: Deploy, login: tuple[str, str], env: dict[str, str]
    ) -> None:
        deploy.status = "update_in_progress"
        await start_unit(self.workdir, deploy.unit, login, env, "disk-" + service.id)
        unit = deploy.unit
        while unit.state == "starting":
            unit.changed.clear()
            await unit.changed.wait()
        healthy = False
        if unit.state == "started":
            path = str(service.details.get("healthCheckPath") or "/")
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"http://127.0.0.1:{unit.port}{path}") as reply,
            ):
                healthy = reply.status == 200
        if not healthy:
            deploy.status = "update_failed"
            await stop_unit(unit)
            return
        for other in service.deploys.values():
            if other is not deploy and other.status == "live":
                other.status = "deactivated"
                await stop_unit(other.unit)
        deploy.status = "live"

    async def _get_deploy(self, request: web.Request) -> web.Response:
        deploy = self._service(request).deploys.get(request.match_info["deploy"])
        if deploy is None:
            return _error(404, "deploy not found")
        return web.json_response({"id": deploy.id, "status": deploy.status})

    # ---- custom domains --------------------------------------------------------------------

    async def _add_domain(self, request: web.Request) -> web.Response:
        service = self._service(request)
        name = str((await request.json()).get("name") or "")
        if "." not in name:
            return _error(400, "name is not a domain")
        if name in service.domains:
            return _error(409, "custom domain already exists")
        service.domains[name] = {
            "id": _id("cdm"),
            "name": name,
            "domainType": "apex" if name.count(".") == 1 else "subdomain",
            "verificationStatus": "unverified",
            "_looks": 0,
        }
        return web.json_response([self._domain_json(service.domains[name])], status=201)

    @staticmethod
    def _domain_json(domain: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in domain.items() if not key.startswith("_")}

    def _look(self, request: web.Request) -> dict[str, Any]:
        domain = self._service(request).domains.get(request.match_info["name"])
        if domain is None:
            raise web.HTTPNotFound(
                text='{"id": "404", "message": "custom domain not found"}', content_type="application/json"
            )
        domain["_looks"] += 1
        if domain["_looks"] > self.certificate_checks and self.certificate_outcome != "failed":
            domain["verificationStatus"] = "verified"
        return domain

    async def _get_domain(self, request: web.Request) -> web.Response:
        return web.json_response(self._domain_json(self._look(request)))

    async def _verify_domain(self, request: web.Request) -> web.Response:
        self._look(request)
        return web.Response(status=202)

    # ---- the service's address -------------------------------------------------------------

    async def _edge(self, request: web.Request) -> web.StreamResponse:
        service = next((s for s in self.services.values() if s.name == request.match_info["name"]), None)
        live = [deploy for deploy in (service.deploys.values() if service else []) if deploy.status == "live"]
        return await proxy(request, live[-1].unit if live else None, request.match_info["tail"])

    async def _stop_all(self, _app: web.Application) -> None:
        for task in list(self._tasks):
            task.cancel()
        for service in self.services.values():
            for deploy in service.deploys.values():
                await stop_unit(deploy.unit)

    # ---- test helpers ----------------------------------------------------------------------

    def variables_of(self, name: str) -> dict[str, str]:
        return dict(next(s for s in self.services.values() if s.name == name).env)

    def script_busy_api(self) -> None:
        """A 429 (``Ratelimit-Reset: 0``) on the first service listing, a 503 on the first owners read,
        pages of one item with another service listed before ours."""
        self.fail("GET", r"^/v1/services$", 429, headers={"Ratelimit-Reset": "0"})
        self.fail("GET", r"^/v1/owners$", 503)
        self.page_size = 1
        other = Service(_id("srv"), "someone-else", self.owner["id"], {"imagePath": "x"}, {})
        self.services[other.id] = other
