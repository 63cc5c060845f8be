"""Row ACLs: validation, storage as read/write principal lists, and the SQL visibility test.

Stored as ``_rperm``/``_wperm`` JSON arrays; NULL means public (no ACL was set).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from sidecar.errors import InvalidAclError
from sidecar.store.interface import CallerContext
from sidecar.store.sqlfrag import TRUE, Sql, sql

_ROLE_KEY = re.compile(r"^role:[A-Za-z0-9_\- ]+$")
_USER_KEY = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def validate_acl(acl: Any) -> dict[str, dict[str, bool]]:
    """Only ``*``, a user id or ``role:<name>`` keys with boolean read/write entries (else 123)."""
    if not isinstance(acl, Mapping):
        raise InvalidAclError("ACL must be an object")
    clean: dict[str, dict[str, bool]] = {}
    for key, perms in acl.items():
        if (
            not isinstance(key, str)
            or key in ("role:undefined", "undefined", "null")
            or not (key == "*" or _ROLE_KEY.match(key) or _USER_KEY.match(key))
        ):
            raise InvalidAclError(f"invalid ACL key: {key}")
        if not isinstance(perms, Mapping) or not set(perms) <= {"read", "write"}:
            raise InvalidAclError(f"invalid permissions for {key}")
        if not all(isinstance(v, bool) for v in perms.values()):
            raise InvalidAclError(f"ACL permissions for {key} must be booleans")
        clean[key] = dict(perms)
    return clean


def acl_to_lists(acl: Mapping[str, Mapping[str, bool]] | None) -> tuple[str | None, str | None]:
    """ACL → (``_rperm``, ``_wperm``) JSON text; None (public) when no ACL."""
    if acl is None:
        return None, None
    readers = sorted(k for k, p in acl.items() if p.get("read"))
    writers = sorted(k for k, p in acl.items() if p.get("write"))
    return json.dumps(readers), json.dumps(writers)


def lists_to_acl(rperm: str | None, wperm: str | None) -> dict[str, dict[str, bool]] | None:
    if rperm is None and wperm is None:
        return None
    acl: dict[str, dict[str, bool]] = {}
    for key in json.loads(rperm or "[]"):
        acl.setdefault(key, {})["read"] = True
    for key in json.loads(wperm or "[]"):
        acl.setdefault(key, {})["write"] = True
    return acl


def visible(caller: CallerContext, alias: str, column: str = "_rperm") -> Sql:
    """Rows whose list is NULL (public) or names one of the caller's principals."""
    if caller.is_master:
        return TRUE
    return _visible_to(alias, column, caller.principals())


@functools.lru_cache(maxsize=256)
def _visible_to(alias: str, column: str, principals: frozenset[str]) -> Sql:
    """The test for one set of principals (built once per set: most requests are anonymous or repeat a
    signed-in user's)."""
    ordered = sorted(principals)
    marks = ", ".join("?" * len(ordered))
    return sql(
        f"({alias}.{column} IS NULL OR EXISTS (SELECT 1 FROM json_each({alias}.{column}) "
        f"WHERE value IN ({marks})))",
        *ordered,
    )


def readable(caller: CallerContext, stored_acl: Any) -> bool:
    """:func:`visible` for one object in REST form: no ACL is public, else a read grant to a principal."""
    if caller.is_master or not isinstance(stored_acl, Mapping):
        return True
    return any(
        isinstance(stored_acl.get(key), Mapping) and stored_acl[key].get("read") is True
        for key in caller.principals()
    )
