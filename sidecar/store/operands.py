"""What a ``where`` key refers to in SQL: a typed column, an Array column, a JSON path, a Relation, or
nothing (a missing column behaves as an all-NULL column)."""

from __future__ import annotations

from dataclasses import dataclass

from sidecar.errors import InvalidKeyNameError, InvalidQueryError
from sidecar.store.names import is_valid_field_name, json_path, quote
from sidecar.store.schema import ClassSchema


@dataclass(frozen=True)
class Column:
    """A scalar-typed column (String, Number, Boolean, Date, Pointer, Bytes, File, GeoPoint, Polygon)."""

    sql: str
    type: str
    target_class: str | None = None


@dataclass(frozen=True)
class ArrayColumn:
    sql: str


@dataclass(frozen=True)
class JsonValue:
    """A value inside an Object column at ``path`` (``'$'`` is the whole object)."""

    column_sql: str
    path: str

    @property
    def value_sql(self) -> str:
        return f"json_extract({self.column_sql}, {self.path})"

    @property
    def type_sql(self) -> str:
        """Never NULL (a missing value reads as ``'null'``), so predicates on it stay two-valued."""
        return f"coalesce(json_type({self.column_sql}, {self.path}), 'null')"


@dataclass(frozen=True)
class RelationField:
    owner_class: str
    field_name: str
    target_class: str | None
    alias: str


@dataclass(frozen=True)
class Missing:
    """A field the class does not have: every comparison sees NULL."""


Operand = Column | ArrayColumn | JsonValue | RelationField | Missing

_TIMESTAMP_ALIASES = {"_created_at": "createdAt", "_updated_at": "updatedAt"}


def resolve(schema: ClassSchema | None, key: str, alias: str) -> Operand:
    """Map a where/order key (possibly a dot path) to its operand; invalid names raise 105/102."""
    key = _TIMESTAMP_ALIASES.get(key, key)
    head, *rest = key.split(".")
    if head == "ACL":
        raise InvalidQueryError("Cannot query on ACL.")
    if not is_valid_field_name(head):
        raise InvalidKeyNameError(f"Invalid key name: {key}")
    spec = schema.field_type(head) if schema is not None else None
    if head == "password":  # hashed into a private column; never queryable, reads as absent
        spec = None
    if spec is None:
        if rest:
            json_path(rest)  # still validate the path
        return Missing()
    column = f"{alias}.{quote(head)}"
    if rest:
        if spec.type != "Object":
            raise InvalidQueryError(f"Cannot use a dot path on {spec.type} field {head}")
        return JsonValue(column, json_path(rest))
    if spec.type == "Relation":
        assert schema is not None
        return RelationField(schema.class_name, head, spec.target_class, alias)
    if spec.type == "Array":
        return ArrayColumn(column)
    if spec.type == "Object":
        return JsonValue(column, "'$'")
    return Column(column, spec.type, spec.target_class)
