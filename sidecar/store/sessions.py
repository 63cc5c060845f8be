"""``_Session``: Parse Server's rules for the class, and session tokens kept only as digests.

Every door reaches the store, so the rules live here, once:

- a session is minted by the server (signup, login) or by the master key; a signed-in client that creates
  a ``_Session`` gets a fresh restricted session *for itself*: ``user``, ``sessionToken``, ``expiresAt``
  and ``createdWith`` in its body are ignored, as Parse Server ignores them; without a session (no
  user, or an API key acting as one) the create is 209 ``Session token required.``;
- clients may not set ``ACL`` on a session (105), nor change ``user`` (to anyone else), ``sessionToken``,
  ``installationId``, ``expiresAt`` or ``createdWith`` (105 ``Invalid key name: <field>``);
- a non-master caller sees, changes and deletes only its own sessions (another user's session is 101,
  no user at all is 209); the master key may do everything.

The ``sessionToken`` column holds the SHA-256 digest of the token, never the token: a token is
``r:`` + 128 random bits, so a plain digest cannot be reversed or guessed, and a copied ``local.db``
no longer hands out live sessions. Look-ups digest the presented token. The token itself is returned
only by the call that minted it (signup, login, a session create) and echoed back to the caller that
presents it (``/users/me``, ``/sessions/me``); reads of ``_Session`` never carry the column.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sidecar.errors import IncorrectTypeError, InvalidKeyNameError, InvalidSessionTokenError
from sidecar.store.codec import format_iso
from sidecar.store.interface import CallerContext
from sidecar.store.sqlfrag import TRUE, Sql

SESSION_CLASS = "_Session"
DEFAULT_SESSION_LIFETIME = timedelta(days=365)
TOKEN_FIELD = "sessionToken"
SERVER_SET = ("user", "sessionToken", "expiresAt", "createdWith", "installationId")
"""Fields a client may never change on an existing session (``user`` may be re-set to the caller)."""
_IGNORED_ON_CLIENT_CREATE = frozenset({"objectId", "user", "sessionToken", "expiresAt", "createdWith"})
_DIGEST_LENGTH = 64
MIGRATION_NAME = "session-tokens-hashed"


def new_session_token() -> str:
    return "r:" + secrets.token_hex(16)


def token_digest(token: str) -> str:
    """What the ``sessionToken`` column stores for ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()


def is_digest(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value) == _DIGEST_LENGTH
        and all(c in "0123456789abcdef" for c in value)
    )


def user_pointer(user_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": "_User", "objectId": user_id}


def expiry(lifetime: timedelta) -> dict[str, str]:
    return {"__type": "Date", "iso": format_iso(datetime.now(UTC) + lifetime)}


def prepare_create(
    caller: CallerContext, body: Mapping[str, Any], lifetime: timedelta
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body to store (token digested) and what the create answers besides ``objectId``/``createdAt``
    (the token, shown this once)."""
    if caller.is_master:
        return _master_create(body, lifetime)
    if caller.user_id is None or caller.session_token is None:
        # A session comes from a session: an API key acting as a user cannot turn itself into one
        # (the session would escape the key's scopes).
        raise InvalidSessionTokenError("Session token required.")
    if "ACL" in body:
        raise InvalidKeyNameError("Cannot set ACL on a Session.")
    token = new_session_token()
    extra = {key: value for key, value in body.items() if key not in _IGNORED_ON_CLIENT_CREATE}
    shown: dict[str, Any] = {
        **extra,
        "sessionToken": token,
        "user": user_pointer(caller.user_id),
        "createdWith": {"action": "create"},
        "restricted": True,
        "expiresAt": expiry(lifetime),
    }
    stored = {**shown, "sessionToken": token_digest(token), "ACL": _owner_acl(caller.user_id)}
    return stored, shown


def _master_create(body: Mapping[str, Any], lifetime: timedelta) -> tuple[dict[str, Any], dict[str, Any]]:
    """The master may set every field (Noodl's ``impersonate`` picks its own token); the token is stored
    as its digest, and a session without one gets a new one, so every row is a usable session."""
    fields = dict(body)
    token = fields.get(TOKEN_FIELD)
    if token is None:
        token = new_session_token()
    elif not isinstance(token, str) or not token:
        raise IncorrectTypeError("sessionToken must be a non-empty string")
    fields[TOKEN_FIELD] = token_digest(token)
    fields.setdefault("expiresAt", expiry(lifetime))
    owner = _pointer_id(fields.get("user"))
    if "ACL" not in fields and owner is not None:
        fields["ACL"] = _owner_acl(owner)
    return fields, {TOKEN_FIELD: token}


def prepare_update(caller: CallerContext, body: Mapping[str, Any]) -> dict[str, Any]:
    """Refuse what a client may not change; digest a token the master sets."""
    if caller.is_master:
        fields = dict(body)
        token = fields.get(TOKEN_FIELD)
        if isinstance(token, str) and token:
            fields[TOKEN_FIELD] = token_digest(token)
        return fields
    if caller.user_id is None:
        raise InvalidSessionTokenError("Session token required.")
    heads = {key.split(".", 1)[0] for key in body}
    if "ACL" in heads:
        raise InvalidKeyNameError("Cannot set ACL on a Session.")
    for name in SERVER_SET:
        if name not in heads:
            continue
        if name == "user" and _pointer_id(body.get("user")) == caller.user_id:
            continue  # re-setting one's own pointer changes nothing (Parse allows it)
        raise InvalidKeyNameError(f"Invalid key name: {name}")
    return dict(body)


def row_scope(caller: CallerContext, alias: str) -> Sql:
    """The rows of ``_Session`` a caller may reach: all for master, its own for a user; none without one
    (209, as Parse answers a session query without a session)."""
    if caller.is_master:
        return TRUE
    if caller.user_id is None:
        raise InvalidSessionTokenError("Invalid session token")
    return Sql(f'{alias}."user" = ?', (caller.user_id,))


def hide_token(obj: dict[str, Any]) -> dict[str, Any]:
    """A ``_Session`` object without its digest column."""
    if TOKEN_FIELD in obj:
        return {key: value for key, value in obj.items() if key != TOKEN_FIELD}
    return obj


def digest_stored_tokens(connection: sqlite3.Connection) -> int:
    """Migration ``session-tokens-hashed``: replace every plaintext token left by an older version by its
    digest (rows written since are digests already), and drop tokens an older version let a client save
    on ``_User`` rows (Noodl's ``Users.Current.save()`` sends the whole user model, token included);
    returns how many session rows changed."""
    if TOKEN_FIELD in _columns(connection, "_User"):
        connection.execute(f'UPDATE "_User" SET "{TOKEN_FIELD}" = NULL')
    if TOKEN_FIELD not in _columns(connection, SESSION_CLASS):
        return 0
    rows = connection.execute(
        f'SELECT "objectId", "{TOKEN_FIELD}" FROM "{SESSION_CLASS}" WHERE "{TOKEN_FIELD}" IS NOT NULL'
    ).fetchall()
    changes = [(token_digest(row[1]), row[0]) for row in rows if not is_digest(row[1])]
    # OR REPLACE: a digest already present is the same session twice; keeping one must not stop the open.
    # secure_delete zeroes the plaintext cells the update frees, so no token lingers in free pages.
    secure = connection.execute("PRAGMA secure_delete").fetchone()[0]
    connection.execute("PRAGMA secure_delete = ON")
    try:
        connection.executemany(
            f'UPDATE OR REPLACE "{SESSION_CLASS}" SET "{TOKEN_FIELD}" = ? WHERE "objectId" = ?', changes
        )
    finally:
        connection.execute(f"PRAGMA secure_delete = {int(secure)}")
    return len(changes)


def _columns(connection: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}


def _pointer_id(value: Any) -> str | None:
    if isinstance(value, Mapping) and value.get("__type") == "Pointer":
        object_id = value.get("objectId")
        return object_id if isinstance(object_id, str) else None
    return None


def _owner_acl(user_id: str) -> dict[str, dict[str, bool]]:
    return {user_id: {"read": True, "write": True}}
