"""The editor's BYOB data routes ``/api/*``: the Data Browser and ``noodl.byob.*`` nodes.

Plain JSON records with ``objectId`` and real booleans. The caller is resolved exactly as on the
Parse routes, by the same function (:func:`sidecar.web.auth.resolve_caller`): the admin token, or
an API key held to its data scopes, or else the application id (and client key, when configured)
is required before a session token or an anonymous caller is accepted. Credentials come from
headers only, so a cross-site form or ``text/plain`` post cannot carry them without a CORS
preflight. The store applies class permissions, row ACLs and the special classes' rules, as it
does for ``/classes``; the schema routes are admin only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from sidecar.backends import data
from sidecar.errors import InvalidParamsError, SidecarError
from sidecar.web.auth import ApiKeyDirectory, check_key_scope, require_admin, resolve_caller
from sidecar.web.body import decode_json_object, header_credentials
from sidecar.web.settings import WebSettings
from sidecar.web.wire import error_body, error_status, json_response

API_DEFAULT_LIMIT = 100
_METHODS = ("POST", "PUT", "DELETE")


class ApiRoutes:
    def __init__(
        self,
        store: Any,
        settings: WebSettings,
        api_keys: ApiKeyDirectory | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.api_keys = api_keys

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/_schema", self.get_schema),
            web.post("/api/_schema", self.change_schema),
            web.post("/api/_batch", self.batch),
            web.get("/api/{table}", self.find),
            web.post("/api/{table}", self.create),
            web.get("/api/{table}/{id}", self.get),
            web.put("/api/{table}/{id}", self.update),
            web.delete("/api/{table}/{id}", self.delete),
        ]

    async def _caller(self, request: web.Request) -> Any:
        credentials = header_credentials(request.headers)
        # A failed credential raises, and the door's middleware counts it, as on every route.
        caller = await resolve_caller(credentials, self.settings, self.store, self.api_keys)
        check_key_scope(caller, request.method, "/api")
        return caller

    async def _admin(self, request: web.Request) -> None:
        require_admin(header_credentials(request.headers), self.settings)

    # ---- schema ----------------------------------------------------------------------

    async def get_schema(self, request: web.Request) -> web.StreamResponse:
        await self._admin(request)
        return json_response(await data.get_schema(self.store))

    async def change_schema(self, request: web.Request) -> web.StreamResponse:
        await self._admin(request)
        body = decode_json_object(await request.read())
        table, column = body.get("table"), body.get("column")
        if isinstance(table, str) and isinstance(column, dict):
            await data.add_column(self.store, table, column)
        elif isinstance(table, dict):
            await data.create_table(self.store, table)
        else:
            raise InvalidParamsError(
                "send {table: TableSchema} to create a table, or {table, column} to add one"
            )
        return json_response({"success": True})

    # ---- records ---------------------------------------------------------------------

    async def find(self, request: web.Request) -> web.StreamResponse:
        query = {
            "collection": request.match_info["table"],
            "where": _json_param(request.query, "where", {}),
            "sort": _json_param(request.query, "sort", []),
            "limit": _int_param(request.query, "limit"),
            "skip": _int_param(request.query, "skip"),
            "count": request.query.get("count") in ("1", "true"),
        }
        caller = await self._caller(request)
        return json_response(
            await data.query_records(self.store, query, caller, default_limit=API_DEFAULT_LIMIT)
        )

    async def get(self, request: web.Request) -> web.StreamResponse:
        table, object_id = request.match_info["table"], request.match_info["id"]
        found = await data.fetch_record(self.store, table, object_id, await self._caller(request))
        return json_response(found)

    async def create(self, request: web.Request) -> web.StreamResponse:
        body = decode_json_object(await request.read())
        created = await data.create_record(
            self.store, request.match_info["table"], body, await self._caller(request)
        )
        return json_response(created, 201)

    async def update(self, request: web.Request) -> web.StreamResponse:
        body = decode_json_object(await request.read())
        table, object_id = request.match_info["table"], request.match_info["id"]
        return json_response(
            await data.save_record(self.store, table, object_id, body, await self._caller(request))
        )

    async def delete(self, request: web.Request) -> web.StreamResponse:
        table, object_id = request.match_info["table"], request.match_info["id"]
        return json_response(
            await data.delete_record(self.store, table, object_id, await self._caller(request))
        )

    async def batch(self, request: web.Request) -> web.StreamResponse:
        """Each operation is applied in order under the caller's rights; a failure is its own entry."""
        requests = decode_json_object(await request.read()).get("requests")
        if not isinstance(requests, list):
            raise InvalidParamsError("`requests` must be an array")
        caller = await self._caller(request)
        results = [await self._batch_item(item, caller) for item in requests]
        return json_response({"results": results})

    async def _batch_item(self, item: Any, caller: Any) -> Any:
        try:
            method, table, object_id, body = _batch_target(item)
            if method == "POST":
                return await data.create_record(self.store, table, body, caller)
            if object_id is None:
                raise InvalidParamsError(f"{method} needs /api/<table>/<id>")
            if method == "PUT":
                return await data.save_record(self.store, table, object_id, body, caller)
            return await data.delete_record(self.store, table, object_id, caller)
        except SidecarError as exc:
            return {**error_body(exc), "status": error_status(exc)}


def _batch_target(item: Any) -> tuple[str, str, str | None, Mapping[str, Any]]:
    if not isinstance(item, dict):
        raise InvalidParamsError("each batch request must be an object")
    method, path, body = item.get("method"), item.get("path"), item.get("body") or {}
    if method not in _METHODS:
        raise InvalidParamsError(f"unsupported batch method {method!r}")
    parts = path.strip("/").split("/") if isinstance(path, str) else []
    if len(parts) not in (2, 3) or parts[0] != "api" or not isinstance(body, dict):
        raise InvalidParamsError(f"cannot route batch path {path!r}")
    return method, parts[1], parts[2] if len(parts) == 3 else None, body


def _json_param(query: Mapping[str, str], name: str, default: Any) -> Any:
    text = query.get(name)
    if text is None:
        return default
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested past the decoder's ~1,000 levels
        raise InvalidParamsError(f"Invalid {name} parameter") from None


def _int_param(query: Mapping[str, str], name: str) -> int | None:
    text = query.get(name)
    if text is None:
        return None
    if not text.isdigit():
        raise InvalidParamsError(f"`{name}` must be a non-negative integer")
    return int(text)
