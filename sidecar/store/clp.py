"""Class-level permissions (``parse-wire.md`` §3.4): per operation, which principals may act."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sidecar.errors import OperationForbiddenError
from sidecar.store.interface import CallerContext, CallerKind


def protected_fields(clp: Mapping[str, Any], caller: CallerContext) -> set[str]:
    """Fields hidden from this caller: the intersection of every protectedFields list that applies to it
    (``*``, its user id, its roles, ``authenticated``), as Parse computes it."""
    rules = clp.get("protectedFields")
    if caller.is_master or not isinstance(rules, Mapping):
        return set()
    principals = set(caller.principals())
    if caller.kind is CallerKind.USER:
        principals.add("authenticated")
    applicable = [
        set(fields) for key, fields in rules.items() if key in principals and isinstance(fields, list)
    ]
    return set.intersection(*applicable) if applicable else set()


def check(clp: Mapping[str, Any], operation: str, caller: CallerContext, class_name: str) -> None:
    """Raise 119 unless the caller may perform ``operation`` (master always may)."""
    if caller.is_master:
        return
    rule = clp.get(operation)
    if rule is None:
        return
    if not isinstance(rule, Mapping):
        raise OperationForbiddenError(f"Permission denied for action {operation} on class {class_name}.")
    if rule.get("requiresAuthentication") and caller.kind is CallerKind.USER:
        return
    if any(rule.get(key) is True for key in caller.principals()):
        return
    raise OperationForbiddenError(f"Permission denied for action {operation} on class {class_name}.")
