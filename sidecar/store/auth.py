"""Users, sessions and roles: signup, login, logout, token → caller.

Sessions are ``_Session`` rows with ``r:``+32 hex tokens and an ``expiresAt`` on every mint (contract P78).
A row keeps the token's digest only (:mod:`sidecar.store.sessions`): every look-up digests the token
presented, and the token itself is answered once, by the signup or login that minted it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sidecar.errors import (
    EmailTakenError,
    InvalidEmailError,
    InvalidSessionTokenError,
    ObjectNotFoundError,
    PasswordMissingError,
    UsernameMissingError,
    UsernameTakenError,
)
from sidecar.store import passwords, special_classes
from sidecar.store.codec import format_iso
from sidecar.store.interface import CallerContext
from sidecar.store.names import join_table, quote
from sidecar.store.reads import ReadContext
from sidecar.store.records import decode_row
from sidecar.store.sessions import hide_token, new_session_token, token_digest, user_pointer
from sidecar.store.writes import WriteContext, create

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def signup(
    ctx: WriteContext, body: Mapping[str, Any], lifetime: timedelta
) -> tuple[dict[str, Any], list[Any]]:
    username, password, email = body.get("username"), body.get("password"), body.get("email")
    if not isinstance(username, str) or not username:
        raise UsernameMissingError("bad or missing username")
    if not isinstance(password, str) or not password:
        raise PasswordMissingError("password is required")
    if email is not None and (not isinstance(email, str) or not _EMAIL_RE.match(email)):
        raise InvalidEmailError("Email address format is invalid.")
    connection = ctx.connection
    if connection.execute('SELECT 1 FROM "_User" WHERE lower("username") = lower(?)', (username,)).fetchone():
        raise UsernameTakenError("Account already exists for this username.")
    if (
        email
        and connection.execute('SELECT 1 FROM "_User" WHERE lower("email") = lower(?)', (email,)).fetchone()
    ):
        raise EmailTakenError("Account already exists for this email address.")
    master = WriteContext(connection, ctx.catalog, CallerContext.master(), ctx.allow_class_creation)
    checked = special_classes.user_fields(ctx.caller, body)  # authData of an unverifiable provider: 252
    fields = {k: v for k, v in checked.items() if k not in ("emailVerified", "authData")}
    created, events = create(master, "_User", fields)
    token, session_events = mint_session(master, created.object_id, "signup", lifetime)
    return {"objectId": created.object_id, "createdAt": created.created_at, "sessionToken": token}, [
        *events,
        *session_events,
    ]


def mint_session(
    ctx: WriteContext, user_id: str, action: str, lifetime: timedelta, installation_id: str | None = None
) -> tuple[str, list[Any]]:
    token = new_session_token()
    body: dict[str, Any] = {
        "user": user_pointer(user_id),
        "sessionToken": token,  # the master's create stores its digest
        "expiresAt": {"__type": "Date", "iso": format_iso(datetime.now(UTC) + lifetime)},
        "createdWith": {"action": action, "authProvider": "password"},
        "restricted": False,
        "ACL": {user_id: {"read": True, "write": True}},
    }
    if installation_id:
        body["installationId"] = installation_id
    _, events = create(ctx, "_Session", body)
    return token, events


def login(
    ctx: WriteContext, username: Any, email: Any, password: Any, lifetime: timedelta
) -> tuple[dict[str, Any], list[Any]]:
    if not isinstance(password, str) or not (isinstance(username, str) or isinstance(email, str)):
        raise ObjectNotFoundError("Invalid username/password.")
    row = _find_login_row(ctx, username, email)
    if row is None or not passwords.verify_password(password, row["_hashed_password"]):
        raise ObjectNotFoundError("Invalid username/password.")
    if row["_rperm"] == "[]":  # a locked ACL {} makes login fail as Parse does
        raise ObjectNotFoundError("Invalid username/password.")
    token, events = mint_session(
        WriteContext(ctx.connection, ctx.catalog, CallerContext.master()), row["objectId"], "login", lifetime
    )
    user = decode_row(ctx.catalog.schemas["_User"], row)
    return {**user, "sessionToken": token}, events


def _find_login_row(ctx: WriteContext, username: Any, email: Any) -> Any:
    """Exact-case lookup: username alone also matches an email equal to it (username wins)."""
    execute = ctx.connection.execute
    if isinstance(username, str) and isinstance(email, str):
        return execute(
            'SELECT * FROM "_User" WHERE "username" = ? AND "email" = ?', (username, email)
        ).fetchone()
    if isinstance(email, str):
        return execute('SELECT * FROM "_User" WHERE "email" = ?', (email,)).fetchone()
    row = execute('SELECT * FROM "_User" WHERE "username" = ?', (username,)).fetchone()
    return row or execute('SELECT * FROM "_User" WHERE "email" = ?', (username,)).fetchone()


def logout(ctx: WriteContext, token: str) -> tuple[None, list[Any]]:
    deleted = ctx.connection.execute(
        'DELETE FROM "_Session" WHERE "sessionToken" = ?', (token_digest(token),)
    ).rowcount
    if not deleted:
        raise InvalidSessionTokenError("Invalid session token")
    return None, []


def caller_for_session(ctx: ReadContext, token: Any) -> CallerContext:
    if not isinstance(token, str) or not token:
        raise InvalidSessionTokenError("Invalid session token")
    row = ctx.connection.execute(
        'SELECT "user", "expiresAt" FROM "_Session" WHERE "sessionToken" = ?', (token_digest(token),)
    ).fetchone()
    if row is None or row["user"] is None:
        raise InvalidSessionTokenError("Invalid session token")
    if row["expiresAt"] is not None and row["expiresAt"] <= format_iso(datetime.now(UTC)):
        raise InvalidSessionTokenError("Session token is expired.")
    return CallerContext.user(row["user"], roles_of(ctx, row["user"]), token)


def roles_of(ctx: ReadContext, user_id: str) -> frozenset[str]:
    """Role names held by a user: direct membership through ``_Role.users``, then transitively every role
    whose ``roles`` relation contains a held role."""
    users_join, roles_join = quote(join_table("_Role", "users")), quote(join_table("_Role", "roles"))
    held = {
        r[0]
        for r in ctx.connection.execute(
            f'SELECT "owningId" FROM {users_join} WHERE "relatedId" = ?', (user_id,)
        )
    }
    frontier = set(held)
    while frontier:
        marks = ", ".join("?" * len(frontier))
        parents = {
            r[0]
            for r in ctx.connection.execute(
                f'SELECT "owningId" FROM {roles_join} WHERE "relatedId" IN ({marks})', tuple(frontier)
            )
        }
        frontier = parents - held
        held |= parents
    if not held:
        return frozenset()
    marks = ", ".join("?" * len(held))
    rows = ctx.connection.execute(f'SELECT "name" FROM "_Role" WHERE "objectId" IN ({marks})', tuple(held))
    return frozenset(r[0] for r in rows if r[0])


def current_user(ctx: ReadContext, token: str) -> dict[str, Any]:
    caller = caller_for_session(ctx, token)
    row = ctx.connection.execute('SELECT * FROM "_User" WHERE "objectId" = ?', (caller.user_id,)).fetchone()
    if row is None:
        raise InvalidSessionTokenError("Invalid session token")
    return {**decode_row(ctx.schemas["_User"], row), "sessionToken": token}


def current_session(ctx: ReadContext, token: str) -> dict[str, Any]:
    """The session ``token`` opens, as its owner reads it, with the token echoed back."""
    caller_for_session(ctx, token)  # unknown or expired: 209
    row = ctx.connection.execute(
        'SELECT * FROM "_Session" WHERE "sessionToken" = ?', (token_digest(token),)
    ).fetchone()
    if row is None:
        raise InvalidSessionTokenError("Invalid session token")
    return {**hide_token(decode_row(ctx.schemas["_Session"], row)), "sessionToken": token}
