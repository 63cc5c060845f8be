"""Object routes: ``/classes/:className[/:objectId]`` and their ``/users`` and ``/roles`` aliases.
A create on ``_User`` is a signup."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sidecar.errors import ObjectNotFoundError, SessionMissingError
from sidecar.store import CallerContext, fetch_options_from_params, query_options_from_params
from sidecar.web.router import Call, Handler, Route
from sidecar.web.wire import Reply

_NOT_WRITABLE = ("objectId", "createdAt", "updatedAt")
"""Ignored in an update body, as Parse ignores them (Noodl's save sends the whole model)."""


def class_of(call: Call, fixed: str | None) -> str:
    return fixed if fixed is not None else call.args["className"]


def writable(params: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in params.items() if key not in _NOT_WRITABLE}


def find_handler(fixed: str | None) -> Handler:
    async def find(call: Call) -> Reply:
        options = query_options_from_params(call.params)
        result = await call.services.store.query(class_of(call, fixed), options, call.caller)
        return Reply(result.to_wire())

    return find


def create_handler(fixed: str | None) -> Handler:
    async def create(call: Call) -> Reply:
        class_name = class_of(call, fixed)
        store = call.services.store
        if class_name == "_User":
            body = await store.signup(call.params, call.caller)
            object_id = body["objectId"]
            location = f"{call.base_url}/users/{object_id}"
        else:  # whatever the alias posted to (/roles, /sessions), as Parse Server's Location
            created = await store.create(class_name, call.params, call.caller)
            body, object_id = created.to_wire(), created.object_id
            location = f"{call.base_url}/classes/{class_name}/{object_id}"
        return Reply(body, 201, {"Location": location})

    return create


def get_handler(fixed: str | None) -> Handler:
    async def get(call: Call) -> Reply:
        options = fetch_options_from_params(call.params)
        class_name = class_of(call, fixed)
        found = await call.services.store.fetch(class_name, call.args["objectId"], call.caller, options)
        token = call.credentials.session_token
        if class_name == "_User" and token and call.caller.user_id == found.get("objectId"):
            found = {**found, "sessionToken": token}  # one's own user carries one's token, as in Parse
        return Reply(found)

    return get


def update_handler(fixed: str | None) -> Handler:
    async def update(call: Call) -> Reply:
        class_name, object_id = class_of(call, fixed), call.args["objectId"]
        if class_name == "_User" and _anonymous(call.caller):
            raise SessionMissingError(f"Cannot modify user {object_id}.")
        with _users_as_parse_answers(class_name, call.caller):
            result = await call.services.store.save(class_name, object_id, writable(call.params), call.caller)
        return Reply(result.to_wire())

    return update


def delete_handler(fixed: str | None) -> Handler:
    async def delete(call: Call) -> Reply:
        class_name = class_of(call, fixed)
        if class_name == "_User" and _anonymous(call.caller):
            raise SessionMissingError("Insufficient auth to delete user")
        with _users_as_parse_answers(class_name, call.caller):
            await call.services.store.delete(class_name, call.args["objectId"], call.caller)
        return Reply({})

    return delete


def _anonymous(caller: CallerContext) -> bool:
    return not caller.is_master and caller.user_id is None


@contextmanager
def _users_as_parse_answers(class_name: str, caller: CallerContext) -> Iterator[None]:
    """A user row the caller may not write reads as missing; Parse Server answers that case on
    ``_User`` with 206 "Insufficient auth." rather than 101 (the row's existence stays hidden)."""
    try:
        yield
    except ObjectNotFoundError as missing:
        if class_name == "_User" and not caller.is_master:
            raise SessionMissingError("Insufficient auth.") from missing
        raise


def object_routes(prefix: str, fixed: str | None) -> list[Route]:
    """The five routes of one collection path (``/classes/:className`` or an alias such as ``/roles``)."""
    one = f"{prefix}/:objectId"
    return [
        Route("GET", prefix, find_handler(fixed)),
        Route("POST", prefix, create_handler(fixed)),
        Route("GET", one, get_handler(fixed)),
        Route("PUT", one, update_handler(fixed)),
        Route("DELETE", one, delete_handler(fixed)),
    ]


ROUTES: list[Route] = [
    *object_routes("/classes/:className", None),
    *object_routes("/users", "_User"),
    *object_routes("/roles", "_Role"),
    # The caller's own sessions (finding them is /sessions in routes_users): create (a new session for
    # the caller itself), read, revoke, edit; the store holds them to Parse's _Session rules.
    Route("POST", "/sessions", create_handler("_Session")),
    Route("GET", "/sessions/:objectId", get_handler("_Session")),
    Route("PUT", "/sessions/:objectId", update_handler("_Session")),
    Route("DELETE", "/sessions/:objectId", delete_handler("_Session")),
]
