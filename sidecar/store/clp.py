"""Class-level permissions: per operation, which principals may act."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sidecar.errors import OperationForbiddenError
from sidecar.store.interface import CallerContext, CallerKind

READ_OPERATIONS = frozenset({"find", "get", "count"})


def protected_fields(clp: Mapping[str, Any], caller: CallerContext) -> set[str]:
    """Fields hidden from this caller: the intersection of every protectedFields list that applies to it
    (``*``, its user id, its roles, ``authenticated``), as Parse computes it."""
    rules = clp.get("protectedFields")
    if caller.is_master or not isinstance(rules, Mapping) or not any(rules.values()):
        return set()  # the common case: no rule hides anything (``{"*": []}``)
    principals = set(caller.principals())
    if caller.kind is CallerKind.USER:
        principals.add("authenticated")
    applicable = [
        set(fields) for key, fields in rules.items() if key in principals and isinstance(fields, list)
    ]
    return set.intersection(*applicable) if applicable else set()


def check(clp: Mapping[str, Any], operation: str, caller: CallerContext, class_name: str) -> None:
    """Raise 119 unless the caller may perform ``operation`` (master always may). Pointer-permission
    forms grant nothing here; reads narrow rows by them through :func:`read_owner_fields`."""
    if caller.is_master:
        return
    rule = clp.get(operation)
    if rule is None:
        return
    if not isinstance(rule, Mapping):
        raise _forbidden(operation, class_name)
    if rule.get("requiresAuthentication") and caller.kind is CallerKind.USER:
        return
    if _names_caller(rule, caller):
        return
    raise _forbidden(operation, class_name)


def read_owner_fields(
    clp: Mapping[str, Any], operation: str, caller: CallerContext, class_name: str
) -> tuple[str, ...] | None:
    """Whether the caller may ``find``/``get``/``count`` rows of this class, as Parse Server decides it.

    ``None``: every row its ACL lets the caller read. A tuple of field names: only rows where one of these
    fields (a ``_User`` pointer, an array holding one, or an object equal to one) points at the caller — the
    pointer permissions (``{"find": {"pointerFields": [...]}}`` and the class-wide ``readUserFields``) that
    apply when no principal of the caller is named; anonymous callers own no rows. Raises 119 when nothing
    grants the operation (``requiresAuthentication`` refuses anonymous callers even with pointer fields).
    """
    if caller.is_master:
        return None
    rule = clp.get(operation)
    if rule is None:
        return None
    if not isinstance(rule, Mapping):
        raise _forbidden(operation, class_name)
    if _names_caller(rule, caller):
        return None
    fields = _pointer_fields(clp, rule, operation)
    if rule.get("requiresAuthentication"):
        if caller.kind is not CallerKind.USER:
            raise _forbidden(operation, class_name)
        return fields or None
    if fields:
        return fields
    raise _forbidden(operation, class_name)


def _names_caller(rule: Mapping[str, Any], caller: CallerContext) -> bool:
    return rule.get("*") is True or any(rule.get(key) is True for key in caller.principals())


def _pointer_fields(clp: Mapping[str, Any], rule: Mapping[str, Any], operation: str) -> tuple[str, ...]:
    named: list[Any] = []
    for source in (
        rule.get("pointerFields"),
        clp.get("readUserFields") if operation in READ_OPERATIONS else None,
    ):
        if isinstance(source, list):
            named.extend(source)
    return tuple(dict.fromkeys(name for name in named if isinstance(name, str)))


def _forbidden(operation: str, class_name: str) -> OperationForbiddenError:
    return OperationForbiddenError(f"Permission denied for action {operation} on class {class_name}.")
