"""Render through its REST API (``https://api.render.com/v1``), written from Render's public API reference:
owners, registry credentials, services (an image-backed web service with a disk at ``/data`` and
``/health`` as its health check path), env vars, deploys and custom domains.

The target's app is the service's name. A release points the service at the image and triggers a deploy;
Render keeps the previous deploy live until the new one passes its health check. Env vars (Render has no
separate secrets: its env vars are readable through the API) are set one by one; the flow keeps secret
values write-only on this side. Lists are cursor-paginated (``limit``/``cursor``, each item
``{cursor, <object>}``); errors are ``{id, message}``; 429 carries ``Ratelimit-Reset``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from sidecar.deploy.providers.base import ApiClient, DomainStatus, Released, TargetSpec
from sidecar.errors import DeployError

API_BASE = "https://api.render.com/v1"
PAGE = 20
_FAILED = {"build_failed", "update_failed", "canceled", "deactivated", "pre_deploy_failed"}


class RenderProvider:
    name = "render"

    def __init__(self, spec: TargetSpec, token: str, registry_login: tuple[str, str] | None = None) -> None:
        self.spec = spec
        self.api = ApiClient("render", spec.api_base or API_BASE, token)
        self._registry_login = registry_login
        self._owner = str(spec.options.get("ownerId") or "")
        self._credential = ""
        self._service: dict[str, Any] | None = None
        self._pending_env: dict[str, str] = {}

    @property
    def registry(self) -> str:
        return self.spec.registry

    async def close(self) -> None:
        await self.api.close()

    async def _list(self, path: str, key: str, **params: str) -> list[dict[str, Any]]:
        """Every item of a cursor-paginated list."""
        items: list[dict[str, Any]] = []
        cursor = ""
        while True:
            query = {**params, "limit": str(PAGE), **({"cursor": cursor} if cursor else {})}
            _, page = await self.api.call("GET", path, params=query)
            page = page or []
            items += [dict(entry[key]) for entry in page if isinstance(entry, Mapping) and key in entry]
            if not page:  # a server may answer fewer than ``limit`` before the end: only empty ends it
                return items
            cursor = str(page[-1].get("cursor") or "")
            if not cursor:
                return items

    async def prepare(self) -> None:
        if not self._owner:
            owners = await self._list("/owners", "owner")
            if not owners:
                raise DeployError("render: the API key sees no workspace (owner)")
            self._owner = str(owners[0]["id"])
        if self._registry_login is not None and not self._credential:
            name = f"noodl-{self.spec.app}"
            known = await self._list("/registrycredentials", "registryCredential", ownerId=self._owner)
            found = [item for item in known if item.get("name") == name]
            username, password = self._registry_login
            if found:
                self._credential = str(found[0]["id"])
                path = f"/registrycredentials/{quote(self._credential, safe='')}"
                body = {"registry": "DOCKER", "name": name, "username": username, "authToken": password}
                await self.api.call("PATCH", path, json=body)
            else:
                body = {
                    "registry": "DOCKER", "name": name, "username": username,
                    "authToken": password, "ownerId": self._owner,
                }  # fmt: skip
                _, made = await self.api.call("POST", "/registrycredentials", json=body)
                self._credential = str(made["id"])
        await self._find_service()

    async def _find_service(self) -> dict[str, Any] | None:
        services = await self._list("/services", "service", name=self.spec.app, type="web_service")
        found = [item for item in services if item.get("name") == self.spec.app]
        self._service = found[0] if found else None
        return self._service

    def _service_path(self) -> str:
        if self._service is None:
            raise DeployError("render: the service does not exist yet")
        return f"/services/{quote(str(self._service['id']), safe='')}"

    @property
    def url(self) -> str:
        if self.spec.public_url:
            return self.spec.public_url.format(app=self.spec.app)
        details = (self._service or {}).get("serviceDetails") or {}
        return str(details.get("url") or f"https://{self.spec.app}.onrender.com")

    async def registry_login(self) -> tuple[str, str]:
        if self._registry_login is None:
            raise DeployError(
                "render pulls the image from your registry: set the target's options registryCredential "
                "(a credential holding the registry password) and registryUser"
            )
        return self._registry_login

    async def current_environment(self) -> tuple[dict[str, str], set[str]]:
        if self._service is None and await self._find_service() is None:
            return dict(self._pending_env), set(self._pending_env)
        items = await self._list(self._service_path() + "/env-vars", "envVar")
        held = {str(item["key"]): str(item.get("value", "")) for item in items}
        return held, set(held)

    async def set_environment(
        self, env: Mapping[str, str], secrets: Mapping[str, str], unset: set[str]
    ) -> None:
        values = {**env, **secrets}
        if self._service is None:
            self._pending_env.update(values)  # sent with the service when the first release creates it
            return
        for key, value in values.items():
            await self.api.call(
                "PUT", f"{self._service_path()}/env-vars/{quote(key, safe='')}", json={"value": value}
            )
        held, _ = await self.current_environment()
        for key in sorted(unset & set(held)):
            await self.api.call("DELETE", f"{self._service_path()}/env-vars/{quote(key, safe='')}")

    def _image(self, image: str) -> dict[str, Any]:
        spec: dict[str, Any] = {"ownerId": self._owner, "imagePath": image}
        if self._credential:
            spec["registryCredentialId"] = self._credential
        return spec

    async def release(self, image: str, env: Mapping[str, str]) -> Released:
        if self._service is None:
            body = {
                "type": "web_service",
                "name": self.spec.app,
                "ownerId": self._owner,
                "image": self._image(image),
                "envVars": [{"key": key, "value": value} for key, value in sorted(self._pending_env.items())],
                "serviceDetails": {
                    "runtime": "image",
                    "plan": str(self.spec.options.get("plan") or "starter"),
                    "region": self.spec.region or "oregon",
                    "healthCheckPath": "/health",
                    "disk": {"name": "noodl-data", "mountPath": "/data", "sizeGB": 1},
                },
            }
            _, made = await self.api.call("POST", "/services", json=body)
            self._service = dict(made["service"])
            deploy_id = str(made.get("deployId") or "")
            self._pending_env = {}
        else:
            await self.api.call("PATCH", self._service_path(), json={"image": self._image(image)})
            _, deploy = await self.api.call(
                "POST", self._service_path() + "/deploys", json={"imageUrl": image}
            )
            deploy_id = str(deploy["id"])
        handle = f"{self._service['id']}:{deploy_id}"
        return Released(handle, self.url, {"service": self._service["id"], "deploy": deploy_id})

    async def state(self, released: Released) -> str:
        service, _, deploy = released.handle.partition(":")
        path = f"/services/{quote(service, safe='')}/deploys/{quote(deploy, safe='')}"
        _, body = await self.api.call("GET", path)
        status = str((body or {}).get("status") or "")
        if status == "live":
            return "started"
        return "failed" if status in _FAILED else "starting"

    async def add_domain(self, hostname: str) -> DomainStatus:
        if self._service is None:
            await self.prepare()
        await self.api.call(  # 409: already added, its status is read below
            "POST", self._service_path() + "/custom-domains", json={"name": hostname}, ok=(409,)
        )
        return await self.domain_status(hostname)

    async def domain_status(self, hostname: str) -> DomainStatus:
        if self._service is None:
            await self.prepare()
        path = f"{self._service_path()}/custom-domains/{quote(hostname, safe='')}"
        _, body = await self.api.call("GET", path)
        verification = str((body or {}).get("verificationStatus") or "")
        if verification == "verified":
            return DomainStatus(hostname, "issued", verification)
        if "fail" in verification:
            return DomainStatus(hostname, "failed", verification)
        await self.api.call("POST", path + "/verify", ok=(400, 404))  # ask Render to look at the DNS again
        return DomainStatus(hostname, "pending", verification or "unverified")
