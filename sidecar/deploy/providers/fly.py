"""Fly.io through its Machines API (``https://api.machines.dev/v1``), written from Fly's public reference:
apps, volumes, app secrets, machines (create, update, wait, get) and ACME certificates for custom
domains. The image is pushed to ``registry.fly.io/<app>`` with the API token as the password (user ``x``).

One machine per target, named ``noodl-<target>``, with the ``noodl_data`` volume at ``/data`` (a Fly volume
belongs to one machine, so a new release *updates* that machine in place; rolling back updates it to the
previous image). Its config carries an HTTP service on 8080 behind 80/443 and a health check on
``/health``. Plain variables live in the machine's ``env``; secrets are app secrets, which Fly injects as
environment variables at boot and never shows again (the list answers names only).

:func:`fly_toml` writes the same settings as a ``fly.toml`` for people who also use ``flyctl``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from sidecar.deploy.context import CONTAINER_PORT
from sidecar.deploy.providers.base import ApiClient, DomainStatus, Released, TargetSpec
from sidecar.errors import ProviderApiError

API_BASE = "https://api.machines.dev"
REGISTRY = "registry.fly.io"
PUBLIC_URL = "https://{app}.fly.dev"
VOLUME_NAME = "noodl_data"
DEFAULT_REGION = "ams"
DEFAULT_ORG = "personal"
WAIT_S = 2
_ISSUED = {"ready", "issued", "verified", "active"}
_FAILED = {"failed", "error", "errored", "invalid"}


def machine_config(spec: TargetSpec, image: str, env: Mapping[str, str], volume_id: str) -> dict[str, Any]:
    """The Machine config of one release (Fly's ``config`` object)."""
    return {
        "image": image,
        "env": {**env, "PORT": str(CONTAINER_PORT)},
        "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": int(spec.options.get("memoryMb", 512))},
        "services": [
            {
                "protocol": "tcp",
                "internal_port": CONTAINER_PORT,
                "ports": [
                    {"port": 80, "handlers": ["http"], "force_https": True},
                    {"port": 443, "handlers": ["tls", "http"]},
                ],
            }
        ],
        "checks": {
            "health": {
                "type": "http",
                "port": CONTAINER_PORT,
                "method": "GET",
                "path": "/health",
                "interval": "15s",
                "timeout": "5s",
                "grace_period": "20s",
            }
        },
        "mounts": [{"volume": volume_id, "path": "/data"}],
        "restart": {"policy": "on-failure", "max_retries": 3},
        "metadata": {"noodl_target": spec.name},
        "stop_config": {"signal": "SIGTERM", "timeout": "10s"},
    }


def fly_toml(spec: TargetSpec, image: str, env: Mapping[str, str]) -> str:
    """A ``fly.toml`` equivalent to what the deploy creates (secrets are not in it: ``fly secrets``)."""

    def text(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    env_lines = "".join(f"  {name} = {text(value)}\n" for name, value in sorted(env.items()))
    return f"""\
# Written by noodl-sidecar for target {spec.name}; secrets are set with `fly secrets set`, never here.
app = {text(spec.app)}
primary_region = {text(spec.region or DEFAULT_REGION)}
kill_signal = "SIGTERM"
kill_timeout = "10s"

[build]
  image = {text(image)}

[env]
  PORT = "{CONTAINER_PORT}"
{env_lines}
[http_service]
  internal_port = {CONTAINER_PORT}
  force_https = true
  auto_stop_machines = "off"
  min_machines_running = 1

  [[http_service.checks]]
    method = "GET"
    path = "/health"
    interval = "15s"
    timeout = "5s"
    grace_period = "20s"

[mounts]
  source = "{VOLUME_NAME}"
  destination = "/data"
"""


class FlyProvider:
    name = "fly"

    def __init__(self, spec: TargetSpec, token: str, registry_login: tuple[str, str] | None = None) -> None:
        self.spec = spec
        self._token = token
        self._registry_login = registry_login
        self.api = ApiClient("fly", spec.api_base or API_BASE, token)
        self._app = quote(spec.app, safe="")
        self._volume_id: str | None = None

    @property
    def registry(self) -> str:
        return self.spec.registry or REGISTRY

    @property
    def url(self) -> str:
        return (self.spec.public_url or PUBLIC_URL).format(app=self.spec.app)

    @property
    def machine_name(self) -> str:
        return f"noodl-{self.spec.name}"

    async def close(self) -> None:
        await self.api.close()

    async def prepare(self) -> None:
        status, _ = await self.api.call("GET", f"/v1/apps/{self._app}", ok=(404,))
        if status == 404:
            org = str(self.spec.options.get("org") or DEFAULT_ORG)
            await self.api.call("POST", "/v1/apps", json={"app_name": self.spec.app, "org_slug": org})
        await self._volume()

    async def _volume(self) -> str:
        if self._volume_id is not None:
            return self._volume_id
        _, volumes = await self.api.call("GET", f"/v1/apps/{self._app}/volumes")
        for volume in volumes or []:
            if volume.get("name") == VOLUME_NAME and volume.get("state") != "destroyed":
                self._volume_id = str(volume["id"])
                return self._volume_id
        body = {
            "name": VOLUME_NAME,
            "region": self.spec.region or DEFAULT_REGION,
            "size_gb": int(self.spec.options.get("volumeGb", 1)),
        }
        _, made = await self.api.call("POST", f"/v1/apps/{self._app}/volumes", json=body)
        self._volume_id = str(made["id"])
        return self._volume_id

    async def registry_login(self) -> tuple[str, str]:
        return self._registry_login or ("x", self._token)  # registry.fly.io takes the API token

    async def _machine(self) -> dict[str, Any] | None:
        _, machines = await self.api.call("GET", f"/v1/apps/{self._app}/machines")
        for machine in machines or []:
            if machine.get("name") == self.machine_name and machine.get("state") != "destroyed":
                return dict(machine)
        return None

    async def current_environment(self) -> tuple[dict[str, str], set[str]]:
        machine = await self._machine()
        env = dict(((machine or {}).get("config") or {}).get("env") or {})
        env.pop("PORT", None)
        _, listed = await self.api.call("GET", f"/v1/apps/{self._app}/secrets")
        names = {str(item["name"]) for item in (listed or {}).get("secrets", [])}
        return env, names

    async def set_environment(
        self, env: Mapping[str, str], secrets: Mapping[str, str], unset: set[str]
    ) -> None:
        # Plain variables ride on the machine config of the next release; secrets are app secrets.
        for name, value in secrets.items():
            await self.api.call(
                "POST", f"/v1/apps/{self._app}/secrets/{quote(name, safe='')}", json={"value": value}
            )
        _, listed = await self.api.call("GET", f"/v1/apps/{self._app}/secrets")
        held = {str(item["name"]) for item in (listed or {}).get("secrets", [])}
        for name in sorted(unset & held):
            await self.api.call("DELETE", f"/v1/apps/{self._app}/secrets/{quote(name, safe='')}")

    async def release(self, image: str, env: Mapping[str, str]) -> Released:
        config = machine_config(self.spec, image, env, await self._volume())
        machine = await self._machine()
        if machine is None:
            body = {"name": self.machine_name, "region": self.spec.region or DEFAULT_REGION, "config": config}
            _, made = await self.api.call("POST", f"/v1/apps/{self._app}/machines", json=body)
        else:
            path = f"/v1/apps/{self._app}/machines/{machine['id']}"
            _, made = await self.api.call("POST", path, json={"config": config})
        handle = f"{made['id']}:{made.get('instance_id', '')}"
        return Released(handle, self.url, {"machine": made["id"], "instanceId": made.get("instance_id")})

    async def state(self, released: Released) -> str:
        machine_id, _, instance_id = released.handle.partition(":")
        base = f"/v1/apps/{self._app}/machines/{quote(machine_id, safe='')}"
        params = {"state": "started", "timeout": str(WAIT_S)}
        if instance_id:
            params["instance_id"] = instance_id
        status, _ = await self.api.call("GET", base + "/wait", params=params, ok=(400, 408))
        if status < 300:
            return "started"
        _, machine = await self.api.call("GET", base)
        if instance_id and machine.get("instance_id") not in (None, instance_id):
            return "failed"  # replaced by another update meanwhile
        state = str(machine.get("state"))
        return "failed" if state in {"failed", "stopped", "destroyed", "suspended"} else "starting"

    async def add_domain(self, hostname: str) -> DomainStatus:
        status, body = await self.api.call(
            "POST", f"/v1/apps/{self._app}/certificates/acme", json={"hostname": hostname}, ok=(409, 422)
        )
        if status in (409, 422):  # already added: report where it stands
            return await self.domain_status(hostname)
        return _certificate(hostname, body)

    async def domain_status(self, hostname: str) -> DomainStatus:
        path = f"/v1/apps/{self._app}/certificates/{quote(hostname, safe='')}"
        _, body = await self.api.call("GET", path)
        found = _certificate(hostname, body)
        if found.status == "pending":  # ask Fly to look at the DNS again
            try:
                _, checked = await self.api.call("POST", path + "/check")
                found = _certificate(hostname, checked)
            except ProviderApiError:
                pass  # a refused re-check leaves the status read above
        return found


def _certificate(hostname: str, body: Any) -> DomainStatus:
    if not isinstance(body, Mapping):
        return DomainStatus(hostname, "pending", "no certificate details")
    status = str(body.get("status") or body.get("client_status") or "").strip()
    lowered = status.lower()
    if lowered in _FAILED or lowered.startswith("fail"):
        return DomainStatus(hostname, "failed", status)
    if lowered in _ISSUED or (body.get("configured") is True and lowered in ("", *sorted(_ISSUED))):
        return DomainStatus(hostname, "issued", status or "configured")
    return DomainStatus(hostname, "pending", status or "awaiting configuration")
