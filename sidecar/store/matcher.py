"""Does one record match a ``where``? For realtime subscriptions, evaluated with the very SQL the
compiler produces for queries, so a subscription and a query can never disagree.

The record is written into a private in-memory table shaped like the class and tested there. Filters that
need other tables (``$relatedTo``, ``$inQuery``, ``$notInQuery``, ``$select``, ``$dontSelect``) are refused
when the subscription is checked.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from sidecar.errors import InvalidQueryError
from sidecar.store import acl, sqlfuncs
from sidecar.store.codec import SQL_AFFINITY, to_sql
from sidecar.store.interface import CallerContext
from sidecar.store.names import quote
from sidecar.store.read_scope import UNRESTRICTED
from sidecar.store.schema import ClassSchema
from sidecar.store.sqlfrag import FALSE, all_of
from sidecar.store.sqlite.connection import MEMORY, open_connection
from sidecar.store.sqlite.writer import translate
from sidecar.store.where import compile_where

LOOP_REGEX_SECONDS = 0.05
"""Regex matching time for one record: the matcher runs on the event loop, which must stay free."""
_CROSS_TABLE = frozenset({"$relatedTo", "$inQuery", "$notInQuery", "$select", "$dontSelect"})


def _uses_other_tables(where: Any) -> str | None:
    if isinstance(where, Mapping):
        for key, value in where.items():
            if key in _CROSS_TABLE:
                return str(key)
            found = _uses_other_tables(value)
            if found:
                return found
    elif isinstance(where, list):
        for item in where:
            found = _uses_other_tables(item)
            if found:
                return found
    return None


class RecordMatcher:
    """Owned by one event-loop thread; every call is a few microseconds of in-memory SQLite."""

    def __init__(self) -> None:
        self._connection = open_connection(MEMORY, readonly=False)
        self._tables: dict[str, ClassSchema] = {}

    def close(self) -> None:
        self._connection.close()

    def check(self, schema: ClassSchema | None, where: Mapping[str, Any]) -> None:
        """Raise (102/105/107) if ``where`` cannot be used as a subscription filter."""
        cross = _uses_other_tables(where)
        if cross:
            raise InvalidQueryError(f"{cross} is not supported in subscription filters")
        class_name = schema.class_name if schema else "_Missing"
        compile_where(
            where, class_name, lambda name: schema if schema and name == class_name else None, UNRESTRICTED
        )

    def matches(
        self, schema: ClassSchema, where: Mapping[str, Any], record: Mapping[str, Any], caller: CallerContext
    ) -> bool:
        """The record passes the filter and the caller may read it (row ACL)."""
        self.check(schema, where)
        table = self._table_for(schema)
        self._connection.execute("SAVEPOINT probe")
        try:
            self._insert(schema, table, record)
            condition = compile_where(where, schema.class_name, lambda n: schema, UNRESTRICTED).condition
            visible = acl.visible(caller, "t")
            test = all_of([condition, visible])
            if test == FALSE:
                return False
            try:
                with sqlfuncs.regex_budget(LOOP_REGEX_SECONDS):
                    row = self._connection.execute(
                        f"SELECT 1 FROM {table} AS t WHERE {test.text}", test.params
                    ).fetchone()
            except sqlite3.Error as exc:
                raise translate(exc) from exc  # a regex out of time: 124, which callers log and skip
            return row is not None
        finally:
            self._connection.execute("ROLLBACK TO probe")
            self._connection.execute("RELEASE probe")

    def _table_for(self, schema: ClassSchema) -> str:
        table = quote(schema.class_name)
        if self._tables.get(schema.class_name) != schema:
            columns = ", ".join(
                f"{quote(name)} {SQL_AFFINITY[spec.type]}" for name, spec in schema.columns().items()
            )
            self._connection.execute(f"DROP TABLE IF EXISTS {table}")
            extra = f", {columns}" if columns else ""
            self._connection.execute(
                f"CREATE TABLE {table} (objectId TEXT, createdAt TEXT, updatedAt TEXT, "
                f"_rperm TEXT, _wperm TEXT{extra})"
            )
            self._tables[schema.class_name] = schema
        return table

    def _insert(self, schema: ClassSchema, table: str, record: Mapping[str, Any]) -> None:
        values: dict[str, Any] = {
            "objectId": record.get("objectId"),
            "createdAt": record.get("createdAt"),
            "updatedAt": record.get("updatedAt"),
        }
        values["_rperm"], values["_wperm"] = acl.acl_to_lists(record.get("ACL"))
        for name, spec in schema.columns().items():
            value = record.get(name)
            if value is not None and not (spec.type == "Pointer" and value.get("__type") == "Object"):
                values[name] = to_sql(spec.type, value, name, schema.class_name)
            elif value is not None:
                values[name] = value.get("objectId")  # an included pointee still points at its id
        names = ", ".join(quote(n) for n in values)
        marks = ", ".join("?" * len(values))
        self._connection.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(values.values()))
