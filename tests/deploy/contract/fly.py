"""The Fly Machines API as a local contract server (``/v1/apps``, volumes, secrets, machines with their
``wait``, ACME certificates), from Fly's public reference: JSON bodies, ``{"error": "..."}`` on failure,
401 without the token, 404 for an unknown app or machine, 408 when a wait runs out.

A machine is real here: creating or updating one pulls its image from the registry, unpacks the
application layer and starts ``/app/bin/start`` (a ``serve`` process) with the machine's env, the app's
secrets and its volume as ``NOODL_DATA_DIR``. Its state goes ``created`` → ``starting`` → ``started`` when
the process says it is ready, ``failed`` when it exits. ``/_edge/<app>/...`` stands in for
``https://<app>.fly.dev`` and forwards to the app's started machine.

Scripts: :meth:`FlyContract.fail` answers the next matching calls with a status (429 with
``Retry-After``, 5xx); ``crash_next_starts`` starts that many machines without their secrets, so they
exit; ``certificate_checks`` is how many looks a certificate stays pending before it is issued (or
``certificate_outcome = "failed"``); ``slow_start_s`` delays each start.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.deploy.contract.registry import Handler
from tests.deploy.contract.runner import Unit, proxy, start_unit, stop_unit


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@dataclass
class Machine:
    id: str
    name: str
    region: str
    config: dict[str, Any]
    instance_id: str = ""
    unit: Unit | None = None  # the running version's process

    @property
    def state(self) -> str:
        return self.unit.state if self.unit is not None else "created"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "region": self.region,
            "instance_id": self.instance_id,
            "config": self.config,
            "image_ref": {"repository": self.config.get("image", "")},
        }


@dataclass
class App:
    name: str
    org: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    machines: dict[str, Machine] = field(default_factory=dict)
    certificates: dict[str, dict[str, Any]] = field(default_factory=dict)


class FlyContract:
    def __init__(self, token: str, workdir: Path, registry_login: tuple[str, str]) -> None:
        self.token = token
        self.workdir = workdir
        self.registry_login = registry_login
        self.apps: dict[str, App] = {}
        self.calls: list[tuple[str, str, int]] = []
        self._scripted: list[tuple[str, re.Pattern[str], int, str | None]] = []
        self.crash_next_starts = 0
        self.certificate_checks = 2
        self.certificate_outcome = "issued"
        self.slow_start_s = 0.0
        self.app = web.Application(middlewares=[self._middleware])
        routes = [
            ("POST", "/v1/apps", self._create_app),
            ("GET", "/v1/apps/{app}", self._get_app),
            ("GET", "/v1/apps/{app}/volumes", self._list_volumes),
            ("POST", "/v1/apps/{app}/volumes", self._create_volume),
            ("GET", "/v1/apps/{app}/secrets", self._list_secrets),
            ("POST", "/v1/apps/{app}/secrets/{name}", self._set_secret),
            ("DELETE", "/v1/apps/{app}/secrets/{name}", self._delete_secret),
            ("GET", "/v1/apps/{app}/machines", self._list_machines),
            ("POST", "/v1/apps/{app}/machines", self._create_machine),
            ("GET", "/v1/apps/{app}/machines/{id}", self._get_machine),
            ("POST", "/v1/apps/{app}/machines/{id}", self._update_machine),
            ("GET", "/v1/apps/{app}/machines/{id}/wait", self._wait_machine),
            ("POST", "/v1/apps/{app}/certificates/acme", self._add_certificate),
            ("GET", "/v1/apps/{app}/certificates/{hostname}", self._get_certificate),
            ("POST", "/v1/apps/{app}/certificates/{hostname}/check", self._check_certificate),
        ]
        for method, path, handler in routes:
            self.app.router.add_route(method, path, handler)
        self.app.router.add_route("*", "/_edge/{app}/{tail:.*}", self._edge)
        self.app.on_shutdown.append(self._stop_all)

    # ---- scripting ---------------------------------------------------------------------------

    def fail(
        self, method: str, path_pattern: str, status: int, *, times: int = 1, retry_after: str | None = None
    ) -> None:
        for _ in range(times):
            self._scripted.append((method, re.compile(path_pattern), status, retry_after))

    def machines(self, app: str) -> list[Machine]:
        return list(self.apps[app].machines.values()) if app in self.apps else []

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_edge/"):
            return await handler(request)
        status = 0
        try:
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                status = 401
                return _error(401, "You must be authenticated to view this.")
            for index, (method, pattern, code, retry_after) in enumerate(self._scripted):
                if method == request.method and pattern.search(request.path):
                    del self._scripted[index]
                    status = code
                    headers = {"Retry-After": retry_after} if retry_after else {}
                    message = "rate limit exceeded" if code == 429 else "upstream unavailable"
                    return web.json_response({"error": message}, status=code, headers=headers)
            reply = await handler(request)
            status = reply.status
            return reply
        finally:
            self.calls.append((request.method, request.path, status))

    def _app(self, request: web.Request) -> App:
        app = self.apps.get(request.match_info["app"])
        if app is None:
            raise web.HTTPNotFound(
                text=json.dumps({"error": "app not found"}), content_type="application/json"
            )
        return app

    # ---- apps, volumes, secrets --------------------------------------------------------------

    async def _create_app(self, request: web.Request) -> web.Response:
        body = await request.json()
        name = body.get("app_name")
        if not isinstance(name, str) or not re.match(r"^[a-z0-9][a-z0-9-]*$", name):
            return _error(400, "app_name is invalid")
        if name in self.apps:
            return _error(422, "Name has already been taken")
        self.apps[name] = App(name, str(body.get("org_slug") or "personal"))
        return web.json_response({"id": self.apps[name].id, "created_at": 1_700_000_000_000}, status=201)

    async def _get_app(self, request: web.Request) -> web.Response:
        app = self._app(request)
        return web.json_response(
            {"id": app.id, "name": app.name, "organization": {"slug": app.org}, "status": "deployed"}
        )

    async def _list_volumes(self, request: web.Request) -> web.Response:
        return web.json_response(list(self._app(request).volumes.values()))

    async def _create_volume(self, request: web.Request) -> web.Response:
        app = self._app(request)
        body = await request.json()
        volume_id = "vol_" + uuid.uuid4().hex[:14]
        volume = {
            "id": volume_id,
            "name": body["name"],
            "region": body.get("region"),
            "size_gb": body.get("size_gb", 1),
            "state": "created",
            "attached_machine_id": None,
        }
        app.volumes[volume_id] = volume
        (self.workdir / "volumes" / volume_id).mkdir(parents=True)
        return web.json_response(volume)

    async def _list_secrets(self, request: web.Request) -> web.Response:
        app = self._app(request)
        listed = [
            {"name": name, "digest": hashlib.sha256(value.encode()).hexdigest()[:16]}
            for name, value in sorted(app.secrets.items())
        ]
        return web.json_response({"secrets": listed})

    async def _set_secret(self, request: web.Request) -> web.Response:
        app = self._app(request)
        body = await request.json()
        if not isinstance(body.get("value"), str):
            return _error(400, "value is required")
        app.secrets[request.match_info["name"]] = body["value"]
        return web.json_response({"name": request.match_info["name"]}, status=201)

    async def _delete_secret(self, request: web.Request) -> web.Response:
        app = self._app(request)
        if app.secrets.pop(request.match_info["name"], None) is None:
            return _error(404, "secret not found")
        return web.json_response({})

    # ---- machines ----------------------------------------------------------------------------

    async def _list_machines(self, request: web.Request) -> web.Response:
        return web.json_response([machine.to_json() for machine in self._app(request).machines.values()])

    def _machine(self, request: web.Request) -> Machine:
        machine = self._app(request).machines.get(request.match_info["id"])
        if machine is None:
            raise web.HTTPNotFound(
                text=json.dumps({"error": "machine not found"}), content_type="application/json"
            )
        return machine

    async def _create_machine(self, request: web.Request) -> web.Response:
        app = self._app(request)
        body = await request.json()
        config = body.get("config")
        if not isinstance(config, dict) or not config.get("image"):
            return _error(400, "config.image is required")
        machine = Machine(
            "m" + uuid.uuid4().hex[:13], str(body.get("name") or ""), str(body.get("region") or "ams"), config
        )
        app.machines[machine.id] = machine
        await self._launch(app, machine)
        return web.json_response(machine.to_json())

    async def _update_machine(self, request: web.Request) -> web.Response:
        app = self._app(request)
        machine = self._machine(request)
        body = await request.json()
        if not isinstance(body.get("config"), dict) or not body["config"].get("image"):
            return _error(400, "config.image is required")
        await self._stop(machine)
        machine.config = body["config"]
        await self._launch(app, machine)
        return web.json_response(machine.to_json())

    async def _get_machine(self, request: web.Request) -> web.Response:
        return web.json_response(self._machine(request).to_json())

    async def _wait_machine(self, request: web.Request) -> web.Response:
        machine = self._machine(request)
        wanted = request.query.get("state", "started")
        instance = request.query.get("instance_id")
        if instance and instance != machine.instance_id:
            return _error(400, f"machine {machine.id} is at version {machine.instance_id}, not {instance}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + float(request.query.get("timeout", "60"))
        while machine.state != wanted:
            unit = machine.unit
            if unit is None:
                return _error(400, f"machine {machine.id} has not been started")
            if unit.state == "failed" and wanted == "started":
                return _error(400, f"machine {machine.id} failed to start (exit {unit.exit_code})")
            unit.changed.clear()
            try:
                await asyncio.wait_for(unit.changed.wait(), max(deadline - loop.time(), 0.0))
            except TimeoutError:
                return _error(408, f"deadline_exceeded: machine {machine.id} is {machine.state}")
        return web.json_response({"ok": True})

    async def _launch(self, app: App, machine: Machine) -> None:
        machine.instance_id = uuid.uuid4().hex[:26].upper()
        unit = Unit(f"{machine.id}-{machine.instance_id}", str(machine.config["image"]))
        unit.ready_delay_s = self.slow_start_s
        machine.unit = unit
        mounts = machine.config.get("mounts") or []
        volume = str(mounts[0]["volume"]) if mounts else "ephemeral-" + machine.id
        env = {str(key): str(value) for key, value in (machine.config.get("env") or {}).items()}
        if self.crash_next_starts > 0:
            self.crash_next_starts -= 1  # this start goes without the app's secrets
        else:
            env |= app.secrets
        await start_unit(self.workdir, unit, self.registry_login, env, volume)

    async def _stop(self, machine: Machine) -> None:
        if machine.unit is not None:
            await stop_unit(machine.unit)

    async def _stop_all(self, _app: web.Application) -> None:
        for app in self.apps.values():
            for machine in app.machines.values():
                await self._stop(machine)

    # ---- certificates ------------------------------------------------------------------------

    def _certificate_json(self, certificate: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in certificate.items() if not key.startswith("_")}

    async def _add_certificate(self, request: web.Request) -> web.Response:
        app = self._app(request)
        hostname = (await request.json()).get("hostname")
        if not isinstance(hostname, str) or "." not in hostname:
            return _error(400, "hostname is invalid")
        if hostname in app.certificates:
            return _error(422, "Hostname already exists on app")
        app.certificates[hostname] = {
            "hostname": hostname,
            "configured": False,
            "status": "Awaiting configuration",
            "acme_requested": True,
            "dns_requirements": {"cname": f"{app.name}.fly.dev"},
            "_looks": 0,
        }
        return web.json_response(self._certificate_json(app.certificates[hostname]), status=201)

    def _look(self, request: web.Request) -> dict[str, Any]:
        certificate = self._app(request).certificates.get(request.match_info["hostname"])
        if certificate is None:
            raise web.HTTPNotFound(
                text=json.dumps({"error": "certificate not found"}), content_type="application/json"
            )
        certificate["_looks"] += 1
        if certificate["_looks"] > self.certificate_checks:
            if self.certificate_outcome == "failed":
                certificate.update(status="Failed", configured=False)
            else:
                certificate.update(status="Ready", configured=True)
        elif certificate["_looks"] > 1:
            certificate["status"] = "Awaiting certificates"
        return certificate

    async def _get_certificate(self, request: web.Request) -> web.Response:
        return web.json_response(self._certificate_json(self._look(request)))

    async def _check_certificate(self, request: web.Request) -> web.Response:
        return web.json_response(self._certificate_json(self._look(request)))

    # ---- the app's public address -----------------------------------------------------------

    async def _edge(self, request: web.Request) -> web.StreamResponse:
        app = self.apps.get(request.match_info["app"])
        machines = app.machines.values() if app is not None else []
        started = [machine.unit for machine in machines if machine.state == "started"]
        return await proxy(request, started[0] if started else None, request.match_info["tail"])
