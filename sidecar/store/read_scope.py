"""Who may read which rows of a class: decided here, once, for every read path.

A read of class C passes C's class-level permission for its operation (``find``, ``get`` or ``count``,
with ``requiresAuthentication``), is narrowed by C's pointer permissions (``pointerFields`` and
``readUserFields``: only rows that point at the caller), and then by each row's ACL. Plain queries,
counts and fetches, the objects an ``include`` (or a dotted ``keys`` entry) expands, the subqueries of
``$inQuery``/``$notInQuery``/``$select``/``$dontSelect``, the owner a ``$relatedTo`` reads a relation of,
aggregates and realtime frames all ask here, so no path reads a class on weaker terms than a plain
find of that class (Parse Server runs each of them as a query of its own with the caller's auth).

A caller may not constrain a field that protectedFields hide from it either (Parse's
``This user is not allowed to query <field> on class <C>``), or a yes/no answer would reveal the value.
The master caller passes everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sidecar.errors import OperationForbiddenError
from sidecar.store import acl, clp, special_classes
from sidecar.store.codec import type_tag
from sidecar.store.interface import CallerContext
from sidecar.store.operands import resolve
from sidecar.store.predicates import Predicates
from sidecar.store.schema import ClassSchema
from sidecar.store.sqlfrag import FALSE, Sql, all_of, any_of

_OWNER_FIELD_TYPES = frozenset({"Pointer", "Array", "Object"})
"""Field types a pointer permission may name (Parse refuses the others)."""


def rows(schema: ClassSchema, operation: str, caller: CallerContext, alias: str) -> Sql:
    """The rows of ``schema`` (table alias ``alias``) the caller may ``operation``: raises 119 when the
    class-level permission refuses it, else the SQL test of pointer permissions and row ACL."""
    owners = clp.read_owner_fields(schema.clp, operation, caller, schema.class_name)
    visible = acl.visible(caller, alias)
    if owners is None:
        return visible
    return all_of([_owned(schema, owners, caller, alias), visible])


def _owned(schema: ClassSchema, fields: tuple[str, ...], caller: CallerContext, alias: str) -> Sql:
    if caller.user_id is None:
        return FALSE
    me = {"__type": "Pointer", "className": "_User", "objectId": caller.user_id}
    predicates = Predicates(now=datetime.now(UTC))
    tests = [
        predicates.eq(resolve(schema, name, alias), me)
        for name in fields
        if (spec := schema.field_type(name)) is not None and spec.type in _OWNER_FIELD_TYPES
    ]
    return any_of(tests)


def record_readable(
    schema: ClassSchema, operation: str, caller: CallerContext, record: Mapping[str, Any]
) -> bool:
    """The same decision as :func:`rows` for one object in REST form (a change record), without raising."""
    try:
        owners = clp.read_owner_fields(schema.clp, operation, caller, schema.class_name)
    except OperationForbiddenError:
        return False
    if owners is not None and not any(_points_at(record.get(name), caller) for name in owners):
        return False
    return acl.readable(caller, record.get("ACL"))


def _points_at(value: Any, caller: CallerContext) -> bool:
    if caller.user_id is None:
        return False
    if isinstance(value, list):
        return any(_points_at(item, caller) for item in value)
    return (
        type_tag(value) in ("Pointer", "Object")
        and value.get("className") == "_User"
        and value.get("objectId") == caller.user_id
    )


def check_constrained_fields(
    schema: ClassSchema | None, caller: CallerContext, where: Mapping[str, Any]
) -> None:
    """Refuse (119) a ``where`` level that constrains a field protectedFields hide from the caller; the
    caller's own ``_User`` row (``objectId`` equal to its id) hides nothing, as in Parse."""
    if schema is None or caller.is_master:
        return
    if caller.user_id is not None and where.get("objectId") == caller.user_id:
        return
    hidden = clp.protected_fields(schema.clp, caller)
    if not hidden:
        return
    for key in where:
        if isinstance(key, str) and key.split(".", 1)[0] in hidden:
            raise OperationForbiddenError(
                f"This user is not allowed to query {key} on class {schema.class_name}"
            )


def selectable(schema: ClassSchema, caller: CallerContext, key: str) -> bool:
    """Whether ``$select``/``$dontSelect`` may read ``key`` of the subquery's rows: not when protectedFields
    hide it from the caller (the subquery's objects would not carry it, so no value is selected)."""
    return key.split(".", 1)[0] not in clp.protected_fields(schema.clp, caller)


@dataclass(frozen=True)
class CallerScope:
    """:func:`rows` and :func:`check_constrained_fields` bound to one caller: what the ``where`` compiler
    applies to every class a query reaches."""

    caller: CallerContext

    def rows(self, schema: ClassSchema, operation: str, alias: str) -> Sql:
        """Also the class's own rules (a user's subquery on ``_Session`` sees their sessions only)."""
        own = special_classes.find_scope(self.caller, schema.class_name, alias)
        return all_of([rows(schema, operation, self.caller, alias), own])

    def check_constrained_fields(self, schema: ClassSchema | None, where: Mapping[str, Any]) -> None:
        check_constrained_fields(schema, self.caller, where)

    def selectable(self, schema: ClassSchema, key: str) -> bool:
        return selectable(schema, self.caller, key)


UNRESTRICTED = CallerScope(CallerContext.master())
"""The scope of the master caller: every class and row, nothing refused."""
