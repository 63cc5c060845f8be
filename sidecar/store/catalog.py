"""The schema catalog: class schemas recorded in ``_Schema`` and the DDL that keeps tables in step.

The writer thread owns a working copy that jobs change inside their transaction; readers see the copy
published after the last commit (a reader may briefly miss a brand-new column, which reads as NULL).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

from sidecar.store.codec import SQL_AFFINITY, now_iso
from sidecar.store.names import join_table, quote
from sidecar.store.schema import ClassSchema, FieldSchema

SCHEMA_TABLE = "_Schema"
PRECREATED = ("_User", "_Session", "_Role")


def bootstrap(connection: sqlite3.Connection) -> None:
    connection.execute(
        f"CREATE TABLE IF NOT EXISTS {quote(SCHEMA_TABLE)} (className TEXT PRIMARY KEY, "
        "schema TEXT NOT NULL, createdAt TEXT NOT NULL, updatedAt TEXT NOT NULL)"
    )


def load(connection: sqlite3.Connection) -> dict[str, ClassSchema]:
    rows = connection.execute(f"SELECT schema FROM {quote(SCHEMA_TABLE)}").fetchall()
    schemas = [ClassSchema.from_stored(json.loads(row[0])) for row in rows]
    return {schema.class_name: schema for schema in schemas}


@dataclass
class WorkingCatalog:
    """Schemas as the current write transaction sees them."""

    schemas: dict[str, ClassSchema] = field(default_factory=dict)

    def get(self, class_name: str) -> ClassSchema | None:
        return self.schemas.get(class_name)

    def snapshot(self) -> dict[str, ClassSchema]:
        return dict(self.schemas)

    def restore(self, snapshot: dict[str, ClassSchema]) -> None:
        self.schemas = dict(snapshot)

    def save(self, connection: sqlite3.Connection, schema: ClassSchema) -> None:
        now = now_iso()
        connection.execute(
            f"INSERT INTO {quote(SCHEMA_TABLE)} (className, schema, createdAt, updatedAt) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(className) "
            "DO UPDATE SET schema = excluded.schema, updatedAt = excluded.updatedAt",
            (schema.class_name, json.dumps(schema.to_wire()), now, now),
        )
        self.schemas[schema.class_name] = schema

    def create_class(self, connection: sqlite3.Connection, schema: ClassSchema) -> ClassSchema:
        table = quote(schema.class_name)
        connection.execute(
            f"CREATE TABLE {table} (objectId TEXT PRIMARY KEY, createdAt TEXT NOT NULL, "
            "updatedAt TEXT NOT NULL, _rperm TEXT, _wperm TEXT)"
        )
        name = schema.class_name
        connection.execute(f"CREATE INDEX {quote(f'idx_{name}_createdAt')} ON {table} (createdAt)")
        connection.execute(f"CREATE INDEX {quote(f'idx_{name}_updatedAt')} ON {table} (updatedAt)")
        if name == "_User":
            connection.execute(f"ALTER TABLE {table} ADD COLUMN _hashed_password TEXT")
        for field_name, spec in schema.fields.items():
            self._add_storage(connection, name, field_name, spec)
        _system_indexes(connection, name)
        self.save(connection, schema)
        return schema

    def ensure_class(self, connection: sqlite3.Connection, class_name: str) -> ClassSchema:
        existing = self.schemas.get(class_name)
        return existing if existing else self.create_class(connection, ClassSchema.new(class_name))

    def add_field(
        self, connection: sqlite3.Connection, class_name: str, field_name: str, spec: FieldSchema
    ) -> ClassSchema:
        schema = self.ensure_class(connection, class_name)
        if field_name != "password":
            self._add_storage(connection, class_name, field_name, spec)
        updated = schema.with_field(field_name, spec)
        self.save(connection, updated)
        return updated

    def _add_storage(
        self, connection: sqlite3.Connection, class_name: str, name: str, spec: FieldSchema
    ) -> None:
        if name == "password":
            return
        if spec.type == "Relation":
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {quote(join_table(class_name, name))} (owningId TEXT NOT NULL, "
                "relatedId TEXT NOT NULL, PRIMARY KEY (owningId, relatedId))"
            )
            return
        connection.execute(
            f"ALTER TABLE {quote(class_name)} ADD COLUMN {quote(name)} {SQL_AFFINITY[spec.type]}"
        )

    def drop_class(self, connection: sqlite3.Connection, class_name: str) -> None:
        schema = self.schemas.pop(class_name)
        for field_name in schema.relations():
            connection.execute(f"DROP TABLE IF EXISTS {quote(join_table(class_name, field_name))}")
        connection.execute(f"DROP TABLE IF EXISTS {quote(class_name)}")
        connection.execute(f"DELETE FROM {quote(SCHEMA_TABLE)} WHERE className = ?", (class_name,))


def _system_indexes(connection: sqlite3.Connection, class_name: str) -> None:
    """Unique usernames/emails/role names, as Parse's Postgres adapter creates them."""
    uniques = {"_User": ("username", "email"), "_Role": ("name",), "_Session": ("sessionToken",)}
    for column in uniques.get(class_name, ()):
        index = quote(f"{class_name}_unique_{column}")
        connection.execute(f"CREATE UNIQUE INDEX {index} ON {quote(class_name)} ({quote(column)})")
    if class_name == "_User":
        connection.execute('CREATE INDEX "case_insensitive_username" ON "_User" (lower("username"))')
        connection.execute('CREATE INDEX "case_insensitive_email" ON "_User" (lower("email"))')
