"""The security panel's HTTP routes: permissions, access checks, roles, API keys.

Admin only, JSON in and out, mounted before the Parse catch-all. Each handler reads the wire and calls
the backend's security service, the same one the ``backend:*`` IPC channels call.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from sidecar.errors import InvalidSecurityPolicyError
from sidecar.web.routes_backend import admin_only, json_body
from sidecar.web.settings import WebSettings
from sidecar.web.wire import json_response


class SecurityServices(Protocol):
    """What these routes call (``sidecar.backends.security.SecurityService``)."""

    def get_permissions(self) -> dict[str, Any]: ...
    async def set_permissions(self, raw: Any) -> dict[str, Any]: ...
    async def set_collection_permissions(self, collection: Any, rules: Any) -> dict[str, Any]: ...
    async def reset_collection_permissions(self, collection: Any) -> dict[str, Any]: ...
    async def check_access(self, query: Any) -> dict[str, Any]: ...
    async def list_roles(self) -> list[dict[str, Any]]: ...
    async def create_role(self, name: str) -> dict[str, Any]: ...
    async def delete_role(self, name: str) -> dict[str, Any]: ...
    async def add_role_user(self, role: str, user_id: str) -> dict[str, Any]: ...
    async def remove_role_user(self, role: str, user_id: str) -> dict[str, Any]: ...
    def list_api_keys(self) -> list[dict[str, Any]]: ...
    async def create_api_key(self, name: Any, scopes: Any, acts_as_user_id: Any = None) -> dict[str, Any]: ...
    def revoke_api_key(self, key_id: str) -> dict[str, Any]: ...


def security_routes(security: SecurityServices, settings: WebSettings) -> list[web.RouteDef]:
    handlers = _SecurityRoutes(security)
    table = [
        web.get("/admin/permissions", handlers.get_permissions),
        web.put("/admin/permissions", handlers.set_permissions),
        web.post("/admin/permissions/check", handlers.check_access),
        web.put("/admin/permissions/collections/{name}", handlers.set_collection),
        web.delete("/admin/permissions/collections/{name}", handlers.reset_collection),
        web.get("/admin/roles", handlers.list_roles),
        web.post("/admin/roles", handlers.create_role),
        web.delete("/admin/roles/{name}", handlers.delete_role),
        web.post("/admin/roles/{name}/users", handlers.add_role_user),
        web.delete("/admin/roles/{name}/users/{userId}", handlers.remove_role_user),
        web.get("/admin/keys", handlers.list_keys),
        web.post("/admin/keys", handlers.create_key),
        web.delete("/admin/keys/{id}", handlers.revoke_key),
    ]
    return [web.route(route.method, route.path, admin_only(settings, route.handler)) for route in table]


def _string_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidSecurityPolicyError([f"{name}: a non-empty string is required"])
    return value


class _SecurityRoutes:
    def __init__(self, security: SecurityServices) -> None:
        self.security = security

    async def get_permissions(self, _request: web.Request) -> web.StreamResponse:
        return json_response(self.security.get_permissions())

    async def set_permissions(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.security.set_permissions(await json_body(request)))

    async def check_access(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.security.check_access(await json_body(request)))

    async def set_collection(self, request: web.Request) -> web.StreamResponse:
        name, rules = request.match_info["name"], await json_body(request)
        return json_response(await self.security.set_collection_permissions(name, rules))

    async def reset_collection(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.security.reset_collection_permissions(request.match_info["name"]))

    async def list_roles(self, _request: web.Request) -> web.StreamResponse:
        return json_response({"roles": await self.security.list_roles()})

    async def create_role(self, request: web.Request) -> web.StreamResponse:
        name = _string_field(await json_body(request), "name")
        return json_response(await self.security.create_role(name), 201)

    async def delete_role(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.security.delete_role(request.match_info["name"]))

    async def add_role_user(self, request: web.Request) -> web.StreamResponse:
        user_id = _string_field(await json_body(request), "userId")
        return json_response(await self.security.add_role_user(request.match_info["name"], user_id))

    async def remove_role_user(self, request: web.Request) -> web.StreamResponse:
        role, user_id = request.match_info["name"], request.match_info["userId"]
        return json_response(await self.security.remove_role_user(role, user_id))

    async def list_keys(self, _request: web.Request) -> web.StreamResponse:
        return json_response({"keys": self.security.list_api_keys()})

    async def create_key(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        created = await self.security.create_api_key(
            body.get("name"), body.get("scopes"), body.get("actsAsUserId")
        )
        return json_response(created, 201)

    async def revoke_key(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.security.revoke_api_key(request.match_info["id"]))
