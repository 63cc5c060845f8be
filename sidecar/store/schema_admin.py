"""The ``/schemas`` operations (master only) as writer-thread functions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sidecar.errors import (
    ImmutableFieldError,
    IncorrectTypeError,
    InvalidClassNameError,
    InvalidJsonError,
    InvalidSchemaOperationError,
)
from sidecar.store.catalog import PRECREATED
from sidecar.store.codec import SQL_AFFINITY, dump_json, from_sql, infer_type, to_sql
from sidecar.store.names import DEFAULT_FIELDS, join_table, quote, validate_class_name, validate_field_name
from sidecar.store.schema import SYSTEM_FIELDS, ClassSchema, FieldSchema
from sidecar.store.writes import WriteContext

NoEvents = list[Any]


def create_class(
    ctx: WriteContext, class_name: str, definition: Mapping[str, Any]
) -> tuple[dict[str, Any], NoEvents]:
    validate_class_name(class_name)
    body_name = definition.get("className")
    if body_name not in (None, class_name):
        raise InvalidClassNameError(f"Class name mismatch between {body_name} and {class_name}.")
    if ctx.catalog.get(class_name) is not None:
        raise InvalidClassNameError(f"Class {class_name} already exists.")
    fields = {**SYSTEM_FIELDS.get(class_name, {}), **declared_fields(field_specs(definition))}
    schema = ClassSchema(class_name, fields)
    if isinstance(definition.get("classLevelPermissions"), Mapping):
        schema = replace(schema, clp=dict(definition["classLevelPermissions"]))
    ctx.catalog.create_class(ctx.connection, schema)
    schema = _apply_indexes(ctx, schema, definition.get("indexes") or {})
    return schema.to_wire(), []


def update_class(
    ctx: WriteContext, class_name: str, definition: Mapping[str, Any]
) -> tuple[dict[str, Any], NoEvents]:
    schema = _existing(ctx, class_name)
    for name, spec in field_specs(definition).items():
        if isinstance(spec, Mapping) and spec.get("__op") == "Delete":
            schema = _delete_field(ctx, schema, name)
        elif name not in schema.fields:
            check_declarable(name)
            schema = ctx.catalog.add_field(ctx.connection, class_name, name, FieldSchema.from_wire(spec))
        elif FieldSchema.from_wire(spec).type != schema.fields[name].type:
            # Re-declaring with the same type is accepted unchanged (9.x); a different type is an error.
            raise InvalidSchemaOperationError(f"Field {name} exists, cannot update.")
    if isinstance(definition.get("classLevelPermissions"), Mapping):
        schema = replace(schema, clp=dict(definition["classLevelPermissions"]))
        ctx.catalog.save(ctx.connection, schema)
    schema = _apply_indexes(ctx, schema, definition.get("indexes") or {})
    return schema.to_wire(), []


def _apply_indexes(ctx: WriteContext, schema: ClassSchema, indexes: Any) -> ClassSchema:
    """Parse's ``indexes`` form: ``{"name": {"field": 1, …}}`` to create, ``{"name": {"__op": "Delete"}}``."""
    if not isinstance(indexes, Mapping) or not indexes:
        return schema
    current = dict(schema.indexes)
    for name, spec in indexes.items():
        validate_field_name(name)
        sql_name = quote(f"{schema.class_name}_{name}")
        if isinstance(spec, Mapping) and spec.get("__op") == "Delete":
            if name not in current:
                raise InvalidSchemaOperationError(f"Index {name} does not exist, cannot delete.")
            ctx.connection.execute(f"DROP INDEX {sql_name}")
            del current[name]
            continue
        if name in current:
            raise InvalidSchemaOperationError(f"Index {name} exists, cannot update.")
        if not isinstance(spec, Mapping) or not spec:
            raise InvalidSchemaOperationError(f"Index {name} needs at least one field")
        columns = []
        for field_name, direction in spec.items():
            field_spec = schema.field_type(field_name)
            if field_spec is None or field_spec.type in ("Relation", "ACL") or direction not in (1, -1):
                raise InvalidSchemaOperationError(f"Field {field_name} cannot be indexed.")
            columns.append(quote(field_name) + (" DESC" if direction == -1 else ""))
        ctx.connection.execute(
            f"CREATE INDEX {sql_name} ON {quote(schema.class_name)} ({', '.join(columns)})"
        )
        current[name] = dict(spec)
    updated = replace(schema, indexes=current)
    ctx.catalog.save(ctx.connection, updated)
    return updated


def delete_class(ctx: WriteContext, class_name: str) -> tuple[None, NoEvents]:
    validate_class_name(class_name)
    if ctx.catalog.get(class_name) is None:
        return None, []
    rows = ctx.connection.execute(f"SELECT COUNT(*) FROM {quote(class_name)}").fetchone()[0]
    if rows:
        raise InvalidSchemaOperationError(
            f"Class {class_name} is not empty, contains {rows} objects, cannot drop schema."
        )
    ctx.catalog.drop_class(ctx.connection, class_name)
    if class_name in PRECREATED:
        # Users, sessions and roles are read by the store itself (a session token on any request): an
        # empty one comes back with its default schema, as Parse recreates a system collection on demand.
        ctx.catalog.ensure_class(ctx.connection, class_name)
    return None, []


def rename_field(ctx: WriteContext, class_name: str, old: str, new: str) -> tuple[dict[str, Any], NoEvents]:
    schema = _existing(ctx, class_name)
    spec = schema.fields.get(old)
    if spec is None or old in DEFAULT_FIELDS or old in SYSTEM_FIELDS.get(class_name, {}):
        raise InvalidSchemaOperationError(f"Field {old} cannot be renamed.")
    check_declarable(new)
    if new in schema.fields:
        raise InvalidSchemaOperationError(f"Field {new} exists, cannot update.")
    if spec.type == "Relation":
        ctx.connection.execute(
            f"ALTER TABLE {quote(join_table(class_name, old))} RENAME TO {quote(join_table(class_name, new))}"
        )
    else:
        ctx.connection.execute(f"ALTER TABLE {quote(class_name)} RENAME COLUMN {quote(old)} TO {quote(new)}")
    renamed = ClassSchema(
        class_name,
        {(new if k == old else k): v for k, v in schema.fields.items()},
        schema.clp,
        schema.indexes,
    )
    ctx.catalog.save(ctx.connection, renamed)
    return renamed.to_wire(), []


def change_field_type(
    ctx: WriteContext, class_name: str, name: str, new_type: str
) -> tuple[dict[str, Any], NoEvents]:
    """Rebuild the column: convert each value (String ⇄ Number ⇄ Boolean, anything → String as JSON text);
    values that cannot convert become null and are counted."""
    schema = _existing(ctx, class_name)
    spec = schema.fields.get(name)
    if spec is None or name in SYSTEM_FIELDS.get(class_name, {}):
        raise InvalidSchemaOperationError(f"Field {name} does not exist or cannot change type.")
    target = FieldSchema.from_wire({"type": new_type, "targetClass": spec.target_class})
    if "Relation" in (spec.type, new_type):
        raise InvalidSchemaOperationError("Relation fields cannot change type.")
    table, column, temp = quote(class_name), quote(name), quote(f"__retype_{name}")
    ctx.connection.execute(f"ALTER TABLE {table} ADD COLUMN {temp} {SQL_AFFINITY[new_type]}")
    rows = ctx.connection.execute(
        f'SELECT "objectId", {column} FROM {table} WHERE {column} IS NOT NULL'
    ).fetchall()
    lost = 0
    for object_id, raw in rows:
        converted = convert_value(from_sql(spec.type, raw, spec.target_class), new_type)
        stored = None if converted is None else to_sql(new_type, converted, name, class_name)
        lost += stored is None
        ctx.connection.execute(f'UPDATE {table} SET {temp} = ? WHERE "objectId" = ?', (stored, object_id))
    _drop_column_and_indexes(ctx, class_name, name)
    ctx.connection.execute(f"ALTER TABLE {table} RENAME COLUMN {temp} TO {column}")
    updated = without_indexes_on(schema.with_field(name, target), name)
    ctx.catalog.save(ctx.connection, updated)
    result = updated.to_wire()
    result["conversion"] = {
        "changed": True,
        "from": spec.type,
        "convertedValues": len(rows) - lost,
        "lost": lost,
    }
    return result, []


def convert_value(value: Any, new_type: str) -> Any:
    kind = infer_type(value)
    if kind == new_type:
        return value
    if new_type == "String":
        return value if isinstance(value, str) else dump_json(value)
    if new_type == "Number":
        if kind == "Boolean":
            return int(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return None
    if new_type == "Boolean" and kind in ("Number", "String"):
        return {"true": True, "false": False, "1": True, "0": False}.get(
            str(value).lower().removesuffix(".0")
        )
    if new_type in ("Object", "Array") and isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if infer_type(parsed) == new_type else None
    return None


def _drop_column_and_indexes(ctx: WriteContext, class_name: str, name: str) -> None:
    """SQLite refuses to drop an indexed column: drop the dependent indexes in the same transaction."""
    for index in ctx.connection.execute(f"PRAGMA index_list({quote(class_name)})").fetchall():
        columns = [row[2] for row in ctx.connection.execute(f"PRAGMA index_info({quote(index[1])})")]
        if name in columns:
            ctx.connection.execute(f"DROP INDEX {quote(index[1])}")
    ctx.connection.execute(f"ALTER TABLE {quote(class_name)} DROP COLUMN {quote(name)}")


def _delete_field(ctx: WriteContext, schema: ClassSchema, name: str) -> ClassSchema:
    spec = schema.fields.get(name)
    if spec is None:
        raise InvalidSchemaOperationError(f"Field {name} does not exist, cannot delete.")
    if name in SYSTEM_FIELDS.get(schema.class_name, {}):
        raise ImmutableFieldError(f"field {name} cannot be changed")
    if spec.type == "Relation":
        ctx.connection.execute(f"DROP TABLE IF EXISTS {quote(join_table(schema.class_name, name))}")
    else:
        _drop_column_and_indexes(ctx, schema.class_name, name)
    updated = without_indexes_on(schema.without_field(name), name)
    ctx.catalog.save(ctx.connection, updated)
    return updated


def without_indexes_on(schema: ClassSchema, field_name: str) -> ClassSchema:
    """Declared indexes that covered a dropped column went with it (see ``_drop_column_and_indexes``)."""
    kept = {name: spec for name, spec in schema.indexes.items() if field_name not in spec}
    return replace(schema, indexes=kept)


def _existing(ctx: WriteContext, class_name: str) -> ClassSchema:
    validate_class_name(class_name)
    schema = ctx.catalog.get(class_name)
    if schema is None:
        raise InvalidClassNameError(f"Class {class_name} does not exist.")
    return schema


def check_declarable(name: str) -> None:
    if name in DEFAULT_FIELDS:
        raise ImmutableFieldError(f"field {name} cannot be added")
    validate_field_name(name)


def field_specs(definition: Mapping[str, Any]) -> Mapping[str, Any]:
    fields = definition.get("fields") or {}
    if not isinstance(fields, Mapping):
        raise InvalidJsonError("fields must be an object of field definitions")
    return fields


def declared_fields(fields: Mapping[str, Any]) -> dict[str, FieldSchema]:
    declared = {}
    for name, spec in fields.items():
        check_declarable(name)
        declared[name] = FieldSchema.from_wire(spec)
    if sum(1 for spec in declared.values() if spec.type == "GeoPoint") > 1:
        raise IncorrectTypeError("currently, only one GeoPoint field may exist in an object")
    return declared
