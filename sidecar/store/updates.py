"""Update operators (``{"__op": …}``) as pure functions on Parse values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sidecar.errors import CommandUnavailableError, IncorrectTypeError, InvalidJsonError
from sidecar.store.codec import is_number, type_tag

ARRAY_OPS = frozenset({"Add", "AddUnique", "Remove"})
RELATION_OPS = frozenset({"AddRelation", "RemoveRelation"})
PLAIN_TYPES = frozenset({str, int, float, bool, list, type(None)})
KNOWN_OPS = ARRAY_OPS | RELATION_OPS | {"Increment", "Delete", "Batch", "SetOnInsert"}


@dataclass(frozen=True)
class RelationChange:
    field_name: str
    add: tuple[str, ...]
    remove: tuple[str, ...]
    target_class: str | None


def op_name(value: Any) -> str | None:
    if type(value) in PLAIN_TYPES or not isinstance(value, Mapping):
        return None
    if isinstance(value, Mapping) and isinstance(value.get("__op"), str):
        op: str = value["__op"]
        if op not in KNOWN_OPS:
            raise CommandUnavailableError(f"The {op} operator is not supported yet.")
        return op
    return None


def _identity(value: Any) -> Any:
    """Pointers (and included objects) compare by class and id; everything else structurally."""
    if type_tag(value) in ("Pointer", "Object") and "objectId" in value:
        return ("pointer", value.get("className"), value.get("objectId"))
    return value


def _objects(op: Mapping[str, Any]) -> list[Any]:
    objects = op.get("objects")
    if not isinstance(objects, list):
        raise InvalidJsonError(f"{op.get('__op')}: objects must be an array")
    return objects


def apply_op(op: Mapping[str, Any], current: Any, field_name: str) -> Any:
    """New value of a field after Increment/Add/AddUnique/Remove/SetOnInsert (None = unset)."""
    name = op["__op"]
    if name == "Delete":
        return None
    if name in ("Increment", "SetOnInsert"):
        amount: Any = op.get("amount")
        if not is_number(amount):
            raise InvalidJsonError("Increment amount must be a number")
        if name == "SetOnInsert":
            return amount if current is None else current
        if current is not None and not is_number(current):
            raise IncorrectTypeError(f"Cannot increment a non-number field {field_name}")
        base: float = current if current is not None else 0
        return base + amount
    objects = _objects(op)
    if current is not None and not isinstance(current, list):
        raise IncorrectTypeError(f"{name} needs an Array field, {field_name} is not one")
    existing = list(current or [])
    if name == "Add":
        return existing + objects
    if name == "AddUnique":
        seen = [_identity(item) for item in existing]
        for item in objects:
            if _identity(item) not in seen:
                existing.append(item)
                seen.append(_identity(item))
        return existing
    removed = [_identity(item) for item in objects]
    return [item for item in existing if _identity(item) not in removed]


def relation_change(field_name: str, op: Mapping[str, Any]) -> RelationChange:
    """AddRelation / RemoveRelation / Batch of them → ids to add and remove, all of one class."""
    ops = op.get("ops") if op["__op"] == "Batch" else [op]
    if not isinstance(ops, list):
        raise InvalidJsonError("Batch: ops must be an array")
    add: list[str] = []
    remove: list[str] = []
    classes: set[str] = set()
    for inner in ops:
        if op_name(inner) not in RELATION_OPS:
            raise CommandUnavailableError("Batch only supports AddRelation and RemoveRelation.")
        for pointer in _objects(inner):
            if type_tag(pointer) not in ("Pointer", "Object") or not isinstance(pointer.get("objectId"), str):
                raise InvalidJsonError(f"{inner['__op']}: objects must be pointers")
            classes.add(pointer.get("className"))
            (add if inner["__op"] == "AddRelation" else remove).append(pointer["objectId"])
    if len(classes) > 1:
        raise IncorrectTypeError("Relations can only hold objects of one class")
    return RelationChange(field_name, tuple(add), tuple(remove), next(iter(classes), None))


def flatten_for_create(op: Mapping[str, Any], field_name: str) -> Any:
    """Operators on create: Increment n → n, Add/AddUnique → the list, Remove → [], Delete → absent."""
    return apply_op(op, None, field_name)
