"""Class schemas as values, and their ``/schemas`` wire shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from sidecar.errors import IncorrectTypeError, MissingRequiredFieldError
from sidecar.store.codec import FIELD_TYPES

CLP_OPERATIONS = ("find", "get", "count", "create", "update", "delete", "addField")


def default_clp() -> dict[str, Any]:
    """New classes are open to everyone, per operation, as Parse creates them."""
    clp: dict[str, Any] = {op: {"*": True} for op in CLP_OPERATIONS}
    clp["protectedFields"] = {"*": []}
    return clp


@dataclass(frozen=True)
class FieldSchema:
    type: str
    target_class: str | None = None
    required: bool = False
    default_value: Any = None

    @classmethod
    def from_wire(cls, spec: Any) -> FieldSchema:
        """``{"type": "Pointer", "targetClass": "C", "required"?, "defaultValue"?}`` → FieldSchema."""
        if (
            not isinstance(spec, Mapping)
            or not isinstance(spec.get("type"), str)
            or spec["type"] not in FIELD_TYPES
        ):
            kind = spec.get("type") if isinstance(spec, Mapping) else spec
            raise IncorrectTypeError(f"invalid field type: {kind}")
        target = spec.get("targetClass")
        if spec["type"] in ("Pointer", "Relation") and not isinstance(target, str):
            raise MissingRequiredFieldError(f"type {spec['type']} needs a class name")
        return cls(spec["type"], target, bool(spec.get("required", False)), spec.get("defaultValue"))

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"type": self.type}
        if self.target_class is not None:
            wire["targetClass"] = self.target_class
        if self.required:
            wire["required"] = True
        if self.default_value is not None:
            wire["defaultValue"] = self.default_value
        return wire


_BASE_FIELDS = {
    "objectId": FieldSchema("String"),
    "createdAt": FieldSchema("Date"),
    "updatedAt": FieldSchema("Date"),
    "ACL": FieldSchema("ACL"),
}

SYSTEM_FIELDS: dict[str, dict[str, FieldSchema]] = {
    "_User": {
        "username": FieldSchema("String"),
        "password": FieldSchema("String"),
        "email": FieldSchema("String"),
        "emailVerified": FieldSchema("Boolean"),
        "authData": FieldSchema("Object"),
    },
    "_Role": {
        "name": FieldSchema("String"),
        "users": FieldSchema("Relation", "_User"),
        "roles": FieldSchema("Relation", "_Role"),
    },
    "_Session": {
        "user": FieldSchema("Pointer", "_User"),
        "installationId": FieldSchema("String"),
        "sessionToken": FieldSchema("String"),
        "expiresAt": FieldSchema("Date"),
        "createdWith": FieldSchema("Object"),
        "restricted": FieldSchema("Boolean"),
    },
}
STORED_ELSEWHERE = frozenset({"objectId", "createdAt", "updatedAt", "ACL", "password"})
"""Schema fields without a plain column of their own (``password`` lives in ``_hashed_password``)."""


@dataclass(frozen=True)
class ClassSchema:
    class_name: str
    fields: Mapping[str, FieldSchema] = field(default_factory=dict)
    """User-visible fields other than the four base ones."""
    clp: Mapping[str, Any] = field(default_factory=default_clp)
    indexes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def new(cls, class_name: str) -> ClassSchema:
        clp = default_clp()
        if class_name == "_User":
            clp["protectedFields"] = {"*": ["email"]}  # Parse's default: emails are private to their owner
        return cls(class_name, dict(SYSTEM_FIELDS.get(class_name, {})), clp)

    def field_type(self, name: str) -> FieldSchema | None:
        return _BASE_FIELDS.get(name) or self.fields.get(name)

    def with_field(self, name: str, spec: FieldSchema) -> ClassSchema:
        return replace(self, fields={**self.fields, name: spec})

    def without_field(self, name: str) -> ClassSchema:
        return replace(self, fields={k: v for k, v in self.fields.items() if k != name})

    @cached_property
    def column_fields(self) -> dict[str, FieldSchema]:
        """Fields stored in a column of the class table (computed once: schemas are immutable values)."""
        return {n: f for n, f in self.fields.items() if f.type != "Relation" and n not in STORED_ELSEWHERE}

    @cached_property
    def relation_fields(self) -> dict[str, FieldSchema]:
        return {n: f for n, f in self.fields.items() if f.type == "Relation"}

    @cached_property
    def constrained_fields(self) -> tuple[tuple[str, FieldSchema], ...]:
        """Non-relation fields with ``required`` or a ``defaultValue``: what each create must check."""
        return tuple(
            (name, spec)
            for name, spec in self.fields.items()
            if spec.type != "Relation" and (spec.required or spec.default_value is not None)
        )

    @cached_property
    def column_decoding(self) -> tuple[tuple[str, str, str | None], ...]:
        """(column, field type, target class) of each column, in one tuple: what decoding a row walks."""
        return tuple((name, spec.type, spec.target_class) for name, spec in self.column_fields.items())

    def columns(self) -> dict[str, FieldSchema]:
        return self.column_fields

    def relations(self) -> dict[str, FieldSchema]:
        return self.relation_fields

    def to_wire(self) -> dict[str, Any]:
        """The ``GET /schemas/C`` body."""
        fields = {name: spec.to_wire() for name, spec in _BASE_FIELDS.items()}
        fields.update({name: spec.to_wire() for name, spec in self.fields.items()})
        wire: dict[str, Any] = {
            "className": self.class_name,
            "fields": fields,
            "classLevelPermissions": dict(self.clp),
        }
        if self.indexes:
            wire["indexes"] = dict(self.indexes)
        return wire

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any]) -> ClassSchema:
        fields = {
            name: FieldSchema.from_wire(spec)
            for name, spec in stored["fields"].items()
            if name not in _BASE_FIELDS
        }
        return cls(
            stored["className"],
            fields,
            stored.get("classLevelPermissions") or default_clp(),
            stored.get("indexes") or {},
        )
