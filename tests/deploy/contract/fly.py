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
import base64
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import sys
import tarfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.deploy.contract.registry import Handler


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@dataclass
class Machine:
    id: str
    name: str
    region: str
    config: dict[str, Any]
    instance_id: str = ""
    state: str = "created"
    port: int = 0
    process: asyncio.subprocess.Process | None = None
    exit_code: int | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

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
        timeout = float(request.query.get("timeout", "60"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while machine.state != wanted:
            if machine.state == "failed" and wanted == "started":
                return _error(400, f"machine {machine.id} failed to start (exit {machine.exit_code})")
            machine.changed.clear()
            try:
                await asyncio.wait_for(machine.changed.wait(), max(deadline - loop.time(), 0.0))
            except TimeoutError:
                return _error(408, f"deadline_exceeded: machine {machine.id} is {machine.state}")
        return web.json_response({"ok": True})

    async def _launch(self, app: App, machine: Machine) -> None:
        machine.instance_id = uuid.uuid4().hex[:26].upper()
        self._set_state(machine, "starting")
        root = await self._pull(str(machine.config["image"]))
        mounts = machine.config.get("mounts") or []
        volume = (
            self.workdir / "volumes" / str(mounts[0]["volume"])
            if mounts
            else self.workdir / "ephemeral" / machine.id
        )
        volume.mkdir(parents=True, exist_ok=True)
        machine.port = _free_port()
        env = {
            key: value for key, value in os.environ.items() if not key.startswith(("NOODL_", "PYTHONPATH"))
        }
        env |= {str(key): str(value) for key, value in (machine.config.get("env") or {}).items()}
        if self.crash_next_starts > 0:
            self.crash_next_starts -= 1
        else:
            env |= app.secrets
        env |= {
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "PORT": str(machine.port),
            "NOODL_HOST": "127.0.0.1",
            "NOODL_DATA_DIR": str(volume),
            "NOODL_CREDENTIALS_KEYRING": "0",
            "NOODL_LOG_LEVEL": "warning",
        }
        log = self.workdir / "logs" / f"{machine.id}-{machine.instance_id}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as stderr:
            machine.process = await asyncio.create_subprocess_exec(
                str(root / "app" / "bin" / "start"),
                cwd=str(root),
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
            )
        asyncio.get_running_loop().create_task(self._watch(machine, machine.process, machine.instance_id))

    async def _watch(self, machine: Machine, process: asyncio.subprocess.Process, instance: str) -> None:
        assert process.stdout is not None
        if self.slow_start_s:
            await asyncio.sleep(self.slow_start_s)
        line = await process.stdout.readline()
        if machine.instance_id == instance and line.startswith(b"NODEGX_BACKEND_READY"):
            self._set_state(machine, "started")
        code = await process.wait()
        if machine.instance_id == instance and machine.state in ("starting", "started"):
            machine.exit_code = code
            self._set_state(machine, "failed" if code else "stopped")

    def _set_state(self, machine: Machine, state: str) -> None:
        machine.state = state
        machine.changed.set()

    async def _stop(self, machine: Machine) -> None:
        process, machine.process = machine.process, None
        self._set_state(machine, "stopping")
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        self._set_state(machine, "stopped")

    async def _stop_all(self, _app: web.Application) -> None:
        for app in self.apps.values():
            for machine in app.machines.values():
                await self._stop(machine)

    async def _pull(self, reference: str) -> Path:
        registry, _, rest = reference.partition("/")
        name, _, tag = rest.rpartition(":")
        auth = {"Authorization": basic(*self.registry_login)}
        async with aiohttp.ClientSession(f"http://{registry}", headers=auth) as http:
            async with http.get(f"/v2/{name}/manifests/{tag}") as reply:
                if reply.status != 200:
                    raise web.HTTPBadRequest(
                        text=json.dumps({"error": f"image {reference} not found"}),
                        content_type="application/json",
                    )
                manifest: dict[str, Any] = json.loads(await reply.read())
            layer = str(manifest["layers"][0]["digest"])
            root = self.workdir / "images" / layer.replace(":", "-")
            if not root.exists():
                async with http.get(f"/v2/{name}/blobs/{layer}") as reply:
                    data = await reply.read()
                staging = root.with_suffix(".partial")
                shutil.rmtree(staging, ignore_errors=True)
                with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data))) as tar:
                    tar.extractall(staging, filter="tar")
                staging.rename(root)
        return root

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
        started = [
            machine for machine in (app.machines.values() if app else []) if machine.state == "started"
        ]
        if not started:
            return web.Response(status=502, text="no started machine")
        url = f"http://127.0.0.1:{started[0].port}/{request.match_info['tail']}"
        headers = {
            key: value
            for key, value in request.headers.items()
            if key.lower() not in ("host", "content-length")
        }
        async with (
            aiohttp.ClientSession() as http,
            http.request(
                request.method, url, params=request.query, data=await request.read(), headers=headers
            ) as reply,
        ):
            body = await reply.read()
            kept = {key: value for key, value in reply.headers.items() if key.lower() in ("content-type",)}
            return web.Response(status=reply.status, body=body, headers=kept)


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
