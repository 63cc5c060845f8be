"""Exports of schema and data: ``json``, ``postgres`` (Parse Server's PostgreSQL layout) and
``supabase`` (the same tables with row-level security from CLPs and row ACLs).

SQL literals are produced by one quoting function per kind; nothing from the data is spliced raw.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from sidecar.errors import ExportRefusedError, InvalidClassNameError, InvalidQueryError
from sidecar.store.names import join_table, quote
from sidecar.store.records import decode_row
from sidecar.store.schema import ClassSchema

PG_TYPES = {
    "String": "text",
    "Number": "double precision",
    "Boolean": "boolean",
    "Date": "timestamptz",
    "Object": "jsonb",
    "Array": "jsonb",
    "Pointer": "text",
    "File": "text",
    "GeoPoint": "point",
    "Polygon": "polygon",
    "Bytes": "jsonb",
}
USER_EXTRA_COLUMNS = (
    '"_hashed_password" text',
    '"_email_verify_token" text',
    '"_perishable_token" text',
    '"_password_changed_at" timestamptz',
    '"_failed_login_count" double precision',
)
UNIQUE_COLUMNS = {"_User": ("username", "email"), "_Role": ("name",)}
CLAIMS = "(current_setting('request.jwt.claims', true)::jsonb ->> '{claim}')"


def pg_join_table(class_name: str, field_name: str) -> str:
    """Parse Server's join-table name on PostgreSQL."""
    return f"_Join:{field_name}:{class_name}"


def literal(text: str) -> str:
    """A standard-conforming SQL string literal."""
    if "\x00" in text:
        raise ExportRefusedError("PostgreSQL text cannot hold NUL characters")
    return "'" + text.replace("'", "''") + "'"


def schema_json(schemas: Mapping[str, ClassSchema]) -> str:
    return json.dumps({"classes": [schemas[name].to_wire() for name in sorted(schemas)]}, indent=2)


def exported_classes(schemas: Mapping[str, ClassSchema], fmt: str) -> list[ClassSchema]:
    skip = {"_Session"} if fmt == "supabase" else set()
    return [schemas[name] for name in sorted(schemas) if name not in skip]


def postgres_ddl(schemas: Mapping[str, ClassSchema], fmt: str = "postgres", claim: str = "sub") -> str:
    lines = [
        'CREATE TABLE IF NOT EXISTS "_SCHEMA" ("className" varchar(120) PRIMARY KEY, "schema" jsonb, '
        '"isParseClass" bool);'
    ]
    for schema in exported_classes(schemas, fmt):
        lines.extend(_table_ddl(schema))
        wire = json.dumps(schema.to_wire())
        lines.append(
            f'INSERT INTO "_SCHEMA" ("className", "schema", "isParseClass") VALUES '
            f"({literal(schema.class_name)}, {literal(wire)}::jsonb, true);"
        )
        if fmt == "supabase":
            lines.extend(_rls(schema, claim))
    if fmt == "supabase":  # the schema catalogue is readable, never writable, through the API
        lines.append('ALTER TABLE "_SCHEMA" ENABLE ROW LEVEL SECURITY;')
        lines.append('CREATE POLICY "_SCHEMA_select" ON "_SCHEMA" FOR SELECT USING (true);')
    return "\n".join(lines) + "\n"


def _table_ddl(schema: ClassSchema) -> list[str]:
    name = schema.class_name
    columns = [
        '"objectId" text PRIMARY KEY',
        '"createdAt" timestamptz NOT NULL',
        '"updatedAt" timestamptz NOT NULL',
        '"_rperm" text[]',
        '"_wperm" text[]',
    ]
    columns += [f"{quote(field)} {PG_TYPES[spec.type]}" for field, spec in schema.columns().items()]
    if name == "_User":
        columns += USER_EXTRA_COLUMNS
    lines = [f"CREATE TABLE {quote(name)} (" + ", ".join(columns) + ");"]
    for column in UNIQUE_COLUMNS.get(name, ()):
        lines.append(
            f"CREATE UNIQUE INDEX {quote(f'{name}_unique_{column}')} ON {quote(name)} ({quote(column)});"
        )
    if name == "_User":
        lines.append('CREATE INDEX "case_insensitive_username" ON "_User" (lower("username"));')
        lines.append('CREATE INDEX "case_insensitive_email" ON "_User" (lower("email"));')
    for index_name, spec in schema.indexes.items():
        indexed = ", ".join(quote(f) + (" DESC" if direction == -1 else "") for f, direction in spec.items())
        lines.append(f"CREATE INDEX {quote(f'{name}_{index_name}')} ON {quote(name)} ({indexed});")
    for field in schema.relations():
        lines.append(
            f'CREATE TABLE {quote(pg_join_table(name, field))} ("relatedId" varchar(120), '
            '"owningId" varchar(120), PRIMARY KEY ("relatedId", "owningId"));'
        )
    return lines


def _clp_predicate(clp: Mapping[str, Any], operation: str, principal: str, class_name: str) -> str:
    rule = clp.get(operation)
    if not isinstance(rule, Mapping):
        return "false"
    if rule.get("*") is True:
        return "true"
    terms = []
    if rule.get("requiresAuthentication") is True:
        terms.append(f"{principal} IS NOT NULL")
    for key, allowed in rule.items():
        if allowed is not True or key in ("*", "requiresAuthentication"):
            continue
        if key.startswith("role:") or key.startswith("pointerFields"):
            raise ExportRefusedError(
                f"CANNOT_CROSS: {class_name}.{operation} uses {key}, which RLS cannot express"
            )
        terms.append(f"{principal} = {literal(key)}")
    return "(" + " OR ".join(terms) + ")" if terms else "false"


def _acl_test(column: str, principal: str) -> str:
    """The JSON-ACL predicate on a ``text[]`` principal list (NULL = public)."""
    return f"({column} IS NULL OR '*' = ANY({column}) OR {principal} = ANY({column}))"


def _rls(schema: ClassSchema, claim: str) -> list[str]:
    """RLS on the class table from its CLPs and row ACLs, and on its join tables through the owning row."""
    name, clp = schema.class_name, schema.clp
    if dict(clp.get("find") or {}) != dict(clp.get("get") or {}):
        raise ExportRefusedError(f"CANNOT_CROSS: {name} has different find and get permissions")
    principal = CLAIMS.format(claim=claim.replace("'", "''"))
    table = quote(name)
    readable = _acl_test('"_rperm"', principal)
    writable = _acl_test('"_wperm"', principal)

    def policy(operation: str, command: str, clause: str) -> str:
        predicate = _clp_predicate(clp, operation, principal, name)
        policy_name = quote(f"{name}_{command.lower()}")
        return f"CREATE POLICY {policy_name} ON {table} FOR {command} {clause.format(predicate)};"

    lines = [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;",
        policy("find", "SELECT", f"USING ({{}} AND {readable})"),
        policy("create", "INSERT", "WITH CHECK ({})"),
        policy("update", "UPDATE", f"USING ({{}} AND {writable})"),
        policy("delete", "DELETE", f"USING ({{}} AND {writable})"),
    ]
    for field in schema.relations():
        join = quote(pg_join_table(name, field))
        # The owner's own SELECT policy filters this subquery, so a member row is visible with its owner.
        owner_visible = f'EXISTS (SELECT 1 FROM {table} AS o WHERE o."objectId" = "owningId")'
        owner_acl = _acl_test('o."_wperm"', principal)
        owner_writable = (
            f'EXISTS (SELECT 1 FROM {table} AS o WHERE o."objectId" = "owningId" AND {owner_acl})'
        )
        lines += [
            f"ALTER TABLE {join} ENABLE ROW LEVEL SECURITY;",
            f"CREATE POLICY {quote(f'{name}_{field}_select')} ON {join} FOR SELECT USING ({owner_visible});",
            f"CREATE POLICY {quote(f'{name}_{field}_write')} ON {join} FOR ALL USING ({owner_writable}) "
            f"WITH CHECK ({owner_writable});",
        ]
    return lines


def _pg_value(kind: str, raw: Any) -> str:
    if raw is None:
        return "NULL"
    if kind == "Number":
        return repr(float(raw))
    if kind == "Boolean":
        return "true" if raw else "false"
    if kind == "Date":
        return f"{literal(raw)}::timestamptz"
    if kind == "GeoPoint":
        lat, lng = json.loads(raw)
        return f"point({lng!r}, {lat!r})"
    if kind == "Polygon":
        return (
            literal("(" + ",".join(f"({lng!r},{lat!r})" for lat, lng in json.loads(raw)) + ")") + "::polygon"
        )
    if kind == "File":
        return literal(json.loads(raw)["name"])
    if kind == "Bytes":
        return literal(json.dumps({"__type": "Bytes", "base64": raw})) + "::jsonb"
    if kind in ("Object", "Array"):
        return literal(raw) + "::jsonb"
    return literal(str(raw))


def _pg_list(raw: str | None) -> str:
    if raw is None:
        return "NULL"
    return "ARRAY[" + ", ".join(literal(item) for item in json.loads(raw)) + "]::text[]"


def postgres_data(
    connection: sqlite3.Connection,
    schemas: Mapping[str, ClassSchema],
    fmt: str,
    chosen: Sequence[ClassSchema] | None = None,
    password_hashes: bool = True,
) -> str:
    lines = []
    for schema in exported_classes(schemas, fmt) if chosen is None else chosen:
        name = schema.class_name
        columns = schema.columns()
        extra = ["_hashed_password"] if name == "_User" and password_hashes else []
        names = ["objectId", "createdAt", "updatedAt", "_rperm", "_wperm", *columns, *extra]
        header = f"INSERT INTO {quote(name)} (" + ", ".join(quote(n) for n in names) + ") VALUES ("
        for row in connection.execute(f"SELECT * FROM {quote(name)} ORDER BY objectId"):
            values = [
                literal(row["objectId"]),
                f"{literal(row['createdAt'])}::timestamptz",
                f"{literal(row['updatedAt'])}::timestamptz",
                _pg_list(row["_rperm"]),
                _pg_list(row["_wperm"]),
            ]
            values += [_pg_value(spec.type, row[field]) for field, spec in columns.items()]
            values += [_pg_value("String", row[column]) for column in extra]
            lines.append(header + ", ".join(values) + ");")
        for field in schema.relations():
            table = quote(pg_join_table(name, field))
            for owning, related in connection.execute(
                f'SELECT "owningId", "relatedId" FROM {quote(join_table(name, field))} ORDER BY 1, 2'
            ):
                lines.append(
                    f'INSERT INTO {table} ("owningId", "relatedId") VALUES ({literal(owning)}, '
                    f"{literal(related)});"
                )
    return "\n".join(lines) + "\n"


def json_data(connection: sqlite3.Connection, schemas: Mapping[str, ClassSchema]) -> str:
    classes: dict[str, Any] = {}
    for name in sorted(schemas):
        schema = schemas[name]
        rows = connection.execute(f"SELECT * FROM {quote(name)} ORDER BY objectId").fetchall()
        relations = {
            field: [
                list(pair)
                for pair in connection.execute(
                    f'SELECT "owningId", "relatedId" FROM {quote(join_table(name, field))} ORDER BY 1, 2'
                )
            ]
            for field in schema.relations()
        }
        classes[name] = {"objects": [decode_row(schema, row) for row in rows], "relations": relations}
    return json.dumps({"classes": classes}, indent=2)


def refuse_role_acls(connection: sqlite3.Connection, schemas: Mapping[str, ClassSchema]) -> None:
    """Supabase policies compare a JWT claim only; rows granting access through roles cannot cross."""
    for schema in exported_classes(schemas, "supabase"):
        table = quote(schema.class_name)
        hit = connection.execute(
            f"SELECT 1 FROM {table} WHERE EXISTS (SELECT 1 FROM json_each(coalesce(_rperm, '[]')) "
            "WHERE value LIKE 'role:%') OR EXISTS (SELECT 1 FROM json_each(coalesce(_wperm, '[]')) "
            "WHERE value LIKE 'role:%') LIMIT 1"
        ).fetchone()
        if hit:
            raise ExportRefusedError(f"CANNOT_CROSS: {schema.class_name} has rows whose ACL names a role")


def export_schema(connection: sqlite3.Connection, schemas: Mapping[str, ClassSchema], fmt: str) -> str:
    if fmt == "json":
        return schema_json(schemas)
    if fmt == "postgres":
        return postgres_ddl(schemas)
    if fmt == "supabase":
        refuse_role_acls(connection, schemas)
        return postgres_ddl(schemas, "supabase")
    raise InvalidQueryError(f"unknown export format: {fmt}")


def export_data(connection: sqlite3.Connection, schemas: Mapping[str, ClassSchema], fmt: str) -> str:
    if fmt == "json":
        return json_data(connection, schemas)
    if fmt in ("postgres", "supabase"):
        return postgres_data(connection, schemas, fmt)
    raise InvalidQueryError(f"unknown export format: {fmt}")


# ---- records exports (the editor's migration panel, ``noodl-sidecar export``) --------------------------

RECORDS_FORMAT = "noodl-sidecar/records"
NEVER_EXPORTED = frozenset({"_Session"})
"""Sessions stay behind: their tokens are digests no other server can use, and they grant access."""


def chosen_classes(schemas: Mapping[str, ClassSchema], classes: Sequence[str] | None) -> list[ClassSchema]:
    """Every class but sessions, or the named ones (an unknown name is refused, nothing exported)."""
    if classes is None:
        return [schemas[name] for name in sorted(schemas) if name not in NEVER_EXPORTED]
    unknown = [name for name in classes if name not in schemas or name in NEVER_EXPORTED]
    if unknown:
        raise InvalidClassNameError(f"cannot export class {unknown[0]}: no such class")
    return [schemas[name] for name in dict.fromkeys(classes)]


def jsonl_records(
    connection: sqlite3.Connection, chosen: Sequence[ClassSchema], password_hashes: bool
) -> list[str]:
    """One JSON document a line: a header, each class's schema, its records, then its relation pairs."""
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode
    lines = [
        dumps({"type": "header", "format": RECORDS_FORMAT, "version": 1, "passwordHashes": password_hashes})
    ]
    for schema in chosen:
        lines.append(dumps({"type": "schema", "className": schema.class_name, "schema": schema.to_wire()}))
    for schema in chosen:
        name = schema.class_name
        hashes = name == "_User" and password_hashes
        for row in connection.execute(f"SELECT * FROM {quote(name)} ORDER BY objectId"):
            line: dict[str, Any] = {"type": "record", "className": name, "record": decode_row(schema, row)}
            if hashes and row["_hashed_password"] is not None:
                line["hashedPassword"] = row["_hashed_password"]
            lines.append(dumps(line))
        for field in schema.relations():
            for owning, related in connection.execute(
                f'SELECT "owningId", "relatedId" FROM {quote(join_table(name, field))} ORDER BY 1, 2'
            ):
                lines.append(
                    dumps(
                        {
                            "type": "relation",
                            "className": name,
                            "field": field,
                            "targetClass": schema.fields[field].target_class,
                            "owningId": owning,
                            "relatedId": related,
                        }
                    )
                )
    return lines


def export_records(
    connection: sqlite3.Connection,
    schemas: Mapping[str, ClassSchema],
    fmt: str,
    classes: Sequence[str] | None,
    password_hashes: bool,
) -> tuple[str, dict[str, int]]:
    """``jsonl``, or ``postgres``/``supabase`` SQL (tables, then rows); and the rows per class."""
    chosen = chosen_classes(schemas, classes)
    counts = {
        schema.class_name: int(
            connection.execute(f"SELECT count(*) FROM {quote(schema.class_name)}").fetchone()[0]
        )
        for schema in chosen
    }
    if fmt == "jsonl":
        return "\n".join(jsonl_records(connection, chosen, password_hashes)) + "\n", counts
    if fmt in ("postgres", "supabase"):
        picked = {schema.class_name: schema for schema in chosen}
        if fmt == "supabase":
            refuse_role_acls(connection, picked)
        ddl = postgres_ddl(picked, fmt)
        return ddl + postgres_data(connection, picked, fmt, chosen, password_hashes), counts
    raise InvalidQueryError(f"unknown export format: {fmt}")
