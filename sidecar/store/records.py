"""Rows ↔ Parse objects: decoding stored rows, and turning a request body into column writes."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sidecar.errors import IncorrectTypeError, InvalidJsonError, InvalidKeyNameError
from sidecar.store.acl import lists_to_acl
from sidecar.store.codec import from_sql, infer_type, to_sql
from sidecar.store.names import is_valid_field_name
from sidecar.store.schema import ClassSchema, FieldSchema
from sidecar.store.updates import (
    PLAIN_TYPES,
    RELATION_OPS,
    RelationChange,
    flatten_for_create,
    op_name,
    relation_change,
)

ALWAYS_KEPT = ("objectId", "createdAt", "updatedAt", "ACL")
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_EXACT = 2**53
"""Doubles below this in magnitude are exact integers (from_sql's rule for Number)."""
_IGNORED_ON_WRITE = frozenset({"createdAt", "updatedAt", "className", "__type", "objectId"})


def decode_row(schema: ClassSchema, row: sqlite3.Row | Mapping[str, Any]) -> dict[str, Any]:
    """A stored row (or the column map just inserted) as Parse REST JSON: nulls absent, Relation markers
    always present."""
    obj: dict[str, Any] = {
        "objectId": row["objectId"],
        "createdAt": row["createdAt"],
        "updatedAt": row["updatedAt"],
    }
    for name, kind, target in schema.column_decoding:
        try:
            raw = row[name]
        except (IndexError, KeyError):  # a column the row was read or built without
            continue
        if raw is not None:
            obj[name] = raw if kind == "String" else _decoded(kind, raw, target)
    for name, spec in schema.relations().items():
        obj[name] = {"__type": "Relation", "className": spec.target_class}
    acl = lists_to_acl(row["_rperm"], row["_wperm"])
    if acl is not None:
        obj["ACL"] = acl
    return obj


def row_decoder(schema: ClassSchema, names: Sequence[str]) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """:func:`decode_row` for the rows of one statement whose columns are ``names``: each column's place is
    found once, and each row is read by position instead of by name."""
    position = {name: index for index, name in enumerate(names)}
    object_id, created, updated = position["objectId"], position["createdAt"], position["updatedAt"]
    rperm, wperm = position["_rperm"], position["_wperm"]
    columns = tuple(
        (name, kind, target, position[name])
        for name, kind, target in schema.column_decoding
        if name in position
    )
    relations = tuple(
        (name, {"__type": "Relation", "className": spec.target_class})
        for name, spec in schema.relations().items()
    )

    def decode(row: Sequence[Any]) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "objectId": row[object_id],
            "createdAt": row[created],
            "updatedAt": row[updated],
        }
        for name, kind, target, index in columns:
            raw = row[index]
            if raw is None:
                continue
            # Text and stored doubles inline (the commonest); everything else as decode_row decodes it.
            if kind == "String":
                obj[name] = raw
            elif kind == "Number" and type(raw) is float:
                obj[name] = int(raw) if raw.is_integer() and -_EXACT < raw < _EXACT else raw
            else:
                obj[name] = _decoded(kind, raw, target)
        for name, marker in relations:
            obj[name] = dict(marker)
        readers, writers = row[rperm], row[wperm]
        if readers is not None or writers is not None:
            acl = lists_to_acl(readers, writers)
            if acl is not None:
                obj["ACL"] = acl
        return obj

    return decode


def _decoded(kind: str, raw: Any, target: str | None) -> Any:
    """One stored non-NULL value as Parse JSON; text and numbers without a call to from_sql (this runs for
    every column of every row read): an integral double below 2**53 reads as an integer."""
    if kind == "String":
        return raw
    if kind == "Number":
        if type(raw) is int:
            return raw
        if type(raw) is float:
            return int(raw) if raw.is_integer() and -_EXACT < raw < _EXACT else raw
    return from_sql(kind, raw, target)


def project(obj: dict[str, Any], keys: Iterable[str] | None, exclude: Iterable[str]) -> dict[str, Any]:
    """Apply ``keys``/``excludeKeys``; the four base keys always stay, dot keys select their head."""
    if keys is None and not exclude:
        return obj
    if keys is not None:
        wanted = {key.split(".")[0] for key in keys} | set(ALWAYS_KEPT)
        obj = {
            k: v
            for k, v in obj.items()
            if k in wanted or (isinstance(v, dict) and v.get("__type") == "Relation")
        }
        nested: dict[str, list[str]] = {}
        for key in keys:
            head, _, rest = key.partition(".")
            if rest:
                nested.setdefault(head, []).append(rest)
        for head, subkeys in nested.items():
            if head in obj:
                obj[head] = _project_included(obj[head], subkeys)
    dropped = set(exclude) - set(ALWAYS_KEPT)
    return {k: v for k, v in obj.items() if k not in dropped}


def _project_included(value: Any, keys: list[str]) -> Any:
    """``keys=a.b`` restricts the included object ``a`` to ``b`` (plus its identity)."""
    if isinstance(value, list):
        return [_project_included(item, keys) for item in value]
    if isinstance(value, dict) and value.get("__type") == "Object":
        marker = {"__type": "Object", "className": value.get("className")}
        return {**marker, **project({k: v for k, v in value.items() if k not in marker}, keys, ())}
    return value


@dataclass(slots=True)
class FieldWrites:
    """What one body asks for, split by kind."""

    values: dict[str, Any] = field(default_factory=dict)
    """Top-level fields → new Parse value (None = unset)."""
    ops: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    """Top-level fields with Increment/Add/AddUnique/Remove (applied to the current value)."""
    nested: dict[str, Any] = field(default_factory=dict)
    """Dot keys into Object fields (``meta.x``) → value or Delete op."""
    relations: list[RelationChange] = field(default_factory=list)
    acl: Any = None
    acl_given: bool = False


# Plain (undotted, valid, not reserved) field names seen before: most keys of most bodies are one of
# them, with a plain value, and then take one check instead of six.
_PLAIN_FIELD_NAMES: set[str] = set()
_PLAIN_FIELD_NAMES_MAX = 4096


def split_body(body: Mapping[str, Any], *, creating: bool) -> FieldWrites:
    writes = FieldWrites()
    for key, value in body.items():
        if key in _PLAIN_FIELD_NAMES and type(value) in PLAIN_TYPES:
            writes.values[key] = value
            continue
        if key in _IGNORED_ON_WRITE:
            continue
        if key == "ACL":
            writes.acl, writes.acl_given = value, True
            continue
        dotted = "." in key
        if not is_valid_field_name(key.split(".")[0] if dotted else key) or (dotted and creating):
            raise InvalidKeyNameError(f"Invalid field name: {key}.")
        if not dotted and len(_PLAIN_FIELD_NAMES) < _PLAIN_FIELD_NAMES_MAX:
            _PLAIN_FIELD_NAMES.add(key)
        op = None if type(value) in PLAIN_TYPES else op_name(value)
        if op is None and not dotted:
            writes.values[key] = value
        elif op in RELATION_OPS or op == "Batch":
            writes.relations.append(relation_change(key, value))
        elif dotted:
            writes.nested[key] = value
        elif creating or op == "Delete":
            writes.values[key] = flatten_for_create(value, key)
        else:
            writes.ops[key] = value
    return writes


def field_spec_for(value: Any) -> FieldSchema | None:
    kind = infer_type(value)
    if kind is None:
        return None
    if kind == "Relation":
        raise InvalidJsonError("A Relation can only be written with AddRelation/RemoveRelation")
    target = value.get("className") if kind == "Pointer" else None
    return FieldSchema(kind, target)


def encode(schema: ClassSchema, name: str, value: Any) -> Any:
    spec = schema.fields[name]
    kind, value_type = spec.type, type(value)
    if kind == "String" and value_type is str:  # the common cases first, without another call
        return value
    if kind == "Number" and value_type is int:
        return float(value)
    if value is None:
        return None
    pointer_class = value.get("className") if kind == "Pointer" and isinstance(value, dict) else None
    if pointer_class not in (None, spec.target_class):
        raise IncorrectTypeError(
            f"schema mismatch for {schema.class_name}.{name}; expected Pointer<{spec.target_class}> "
            f"but got Pointer<{pointer_class}>"
        )
    return to_sql(kind, value, name, schema.class_name)
