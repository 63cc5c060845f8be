"""Parse Server's special classes, applied by the store so every door (``/classes``, ``/api``, ``/batch``,
functions, IPC) meets the same rules:

- ``_Session``: see :mod:`sidecar.store.sessions`;
- ``_User``: ``sessionToken`` is never stored on a user (a body's one is dropped) and never read back;
  ``authData`` from a non-master caller is 252, since this backend verifies no auth provider;
  ``emailVerified`` stays master-only (checked in :mod:`sidecar.store.writes`);
- ``_Role``: ``name`` cannot change after creation, not even through an operator or a dot key (136);
- ``_Installation``: clients may not find or delete installations (119); a create needs an
  ``installationId`` or a ``deviceToken`` (135), installation ids are lower-cased, and
  ``installationId``, ``deviceToken`` and ``deviceType`` cannot change once set (136).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sidecar.errors import (
    ImmutableFieldError,
    MissingRequiredFieldError,
    OperationForbiddenError,
    UnsupportedServiceError,
)
from sidecar.store import sessions
from sidecar.store.interface import CallerContext
from sidecar.store.schema import ClassSchema
from sidecar.store.sqlfrag import FALSE, TRUE, Sql

GUARDED = frozenset({"_Session", "_User", "_Role", "_Installation"})
ALWAYS_HIDDEN = {"_Session": frozenset({"sessionToken"}), "_User": frozenset({"sessionToken"})}
"""Stored fields no read returns, to anyone: digests of session tokens, and tokens an older version may
have left on a user row."""
_INSTALLATION_IDS = ("installationId", "deviceToken", "deviceType")


def before_create(
    caller: CallerContext, class_name: str, body: Mapping[str, Any], lifetime: timedelta
) -> tuple[Mapping[str, Any], dict[str, Any] | None]:
    """The body to store, and fields the create answers beside ``objectId``/``createdAt`` (or ``None``)."""
    if class_name == "_Session":
        return sessions.prepare_create(caller, body, lifetime)
    if class_name == "_User":
        return user_fields(caller, body), None
    if class_name == "_Installation":
        return _new_installation(body), None
    return body, None


def before_update(
    caller: CallerContext, class_name: str, body: Mapping[str, Any], current: Mapping[str, Any]
) -> Mapping[str, Any]:
    """The body to apply to ``current``, once the caller's rules allowed it."""
    if class_name == "_Session":
        return sessions.prepare_update(caller, body)
    if class_name == "_User":
        return user_fields(caller, body)
    if class_name == "_Role":
        _check_role_name(body, current)
    if class_name == "_Installation":
        _check_installation_ids(body, current)
        return _lowercased(body)
    return body


def before_delete(caller: CallerContext, class_name: str) -> None:
    if class_name == "_Installation" and not caller.is_master:
        raise OperationForbiddenError(
            "Clients aren't allowed to perform the delete operation on the installation collection."
        )


def find_scope(caller: CallerContext, class_name: str, alias: str) -> Sql:
    """Rows a find (query, count, distinct, aggregate) may consider, beside the row ACL."""
    if class_name == "_Session":
        return sessions.row_scope(caller, alias)
    if class_name == "_Installation" and not caller.is_master:
        raise OperationForbiddenError(
            "Clients aren't allowed to perform the find operation on the installation collection."
        )
    return TRUE


def row_scope(caller: CallerContext, class_name: str, alias: str) -> Sql:
    """Rows a get, update or delete of one object may reach, beside the row ACL."""
    if class_name == "_Session":
        return sessions.row_scope(caller, alias)
    return TRUE


def include_scope(caller: CallerContext, target: ClassSchema, alias: str) -> Sql:
    """Rows an ``include`` may expand: a pointer to a session the caller may not read stays a pointer."""
    if target.class_name == "_Session" and not caller.is_master and caller.user_id is None:
        return FALSE
    return row_scope(caller, target.class_name, alias)


def user_fields(caller: CallerContext, body: Mapping[str, Any]) -> Mapping[str, Any]:
    """A ``_User`` body without ``sessionToken``; non-empty ``authData`` refused unless master."""
    if not caller.is_master and _links_a_provider(body.get("authData")):
        raise UnsupportedServiceError("This authentication method is unsupported.")
    if "sessionToken" in body:
        return {key: value for key, value in body.items() if key != "sessionToken"}
    return body


def _links_a_provider(auth_data: Any) -> bool:
    if auth_data is None:
        return False
    if not isinstance(auth_data, Mapping):
        return True
    return any(value is not None for value in auth_data.values())


def _check_role_name(body: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    for key, value in body.items():
        head = key.split(".", 1)[0]
        if head != "name":
            continue
        if key != "name" or not isinstance(value, str) or value != current.get("name"):
            raise ImmutableFieldError("A role's name can only be set before it has been saved.")


def _new_installation(body: Mapping[str, Any]) -> Mapping[str, Any]:
    if not body.get("installationId") and not body.get("deviceToken"):
        raise MissingRequiredFieldError(
            "at least one ID field (deviceToken, installationId) must be specified in this operation"
        )
    return _lowercased(body)


def _check_installation_ids(body: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    given = _lowercased(body)
    for name in _INSTALLATION_IDS:
        if name in given and current.get(name) is not None and given[name] != current[name]:
            raise ImmutableFieldError(f"{name} may not be changed in this operation")


def _lowercased(body: Mapping[str, Any]) -> dict[str, Any]:
    fields = dict(body)
    installation_id = fields.get("installationId")
    if isinstance(installation_id, str):
        fields["installationId"] = installation_id.lower()
    token = fields.get("deviceToken")
    if isinstance(token, str) and len(token) == 64:  # an iOS token, as Parse treats it
        fields["deviceToken"] = token.lower()
    return fields
