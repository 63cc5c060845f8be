"""Automatic indexes: a field that finds keep scanning a class for gets an index of its own.

A find (or count) whose filter compares a field that no index leads with makes SQLite visit the class's
rows one by one: ~50 ns a row, ~250 µs for half of a 10,000-row class. Such a read runs past the event
loop's budget (:mod:`sidecar.store.sqlite.inline`) and goes to a reader thread; the store tells this
module which fields its filter compared. After ``SCANS_BEFORE_INDEX`` such reads naming the same field,
the writer thread creates ``CREATE INDEX "auto:<class>:<field>"`` on that column, and the next reads of
that shape find their rows through it (the same ~20 µs as a declared index).

What it never changes: an index is only another way for SQLite to find the same rows, so every answer
stays the same (a typed column holds one type, and a missing value is NULL, which a range test excludes
the same way through the index). A find without ``order`` has no promised order in Parse; like a declared
index, an automatic one may change which rows of many equal candidates a page returns first.

Bounds: fields of the types a range or equality test compares in their column (Number, Date, String,
Pointer), top-level keys of the filter only, at most ``MAX_PER_CLASS`` automatic indexes per class (each
one costs every write of the class a little). Automatic indexes are not declared indexes: ``/schemas``
does not list them, an export does not carry them, and deleting or retyping the field drops them with the
column as it drops declared ones. Creating one holds the writer about as long as one scan of the class.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog

from sidecar.store.names import quote
from sidecar.store.schema import ClassSchema

log = structlog.get_logger()

SCANS_BEFORE_INDEX = 32
"""Long reads naming one field before it is indexed: a field scanned once in a while stays unindexed."""

MAX_PER_CLASS = 4
"""Automatic indexes one class may get."""

PREFIX = "auto:"
"""Index names are ``auto:<class>:<field>``: a colon never appears in a class, field or declared index
name, so they cannot collide with a declared index (``<class>_<name>``)."""

INDEXABLE_TYPES = frozenset({"Number", "Date", "String", "Pointer"})
"""Types whose values a range or equality test compares in the column itself (a Boolean has two values:
an index on it rarely narrows a scan)."""
_COMPARISONS = frozenset({"$gt", "$gte", "$lt", "$lte", "$eq", "$in"})
_ALWAYS_INDEXED = frozenset({"objectId", "createdAt", "updatedAt"})

CreateIndex = Callable[[str, str], Awaitable[bool]]
"""Runs :func:`create_index` for (class, field) on the writer; True when it made an index."""


def index_name(class_name: str, field_name: str) -> str:
    return f"{PREFIX}{class_name}:{field_name}"


def compared_fields(schema: ClassSchema, where: Mapping[str, Any]) -> list[str]:
    """Top-level fields of ``where`` compared by value (equality or range) that an index could serve:
    typed columns of an indexable type that no declared index leads with."""
    led = {next(iter(spec), None) for spec in schema.indexes.values() if isinstance(spec, Mapping)}
    found: list[str] = []
    for key, value in where.items():
        if key in _ALWAYS_INDEXED or key in led:
            continue
        spec = schema.column_fields.get(key)
        if spec is None or spec.type not in INDEXABLE_TYPES:
            continue
        if isinstance(value, Mapping):
            if not any(op in _COMPARISONS for op in value):
                continue
        elif isinstance(value, list):
            continue
        found.append(key)
    return found


def create_index(connection: sqlite3.Connection, class_name: str, field_name: str) -> bool:
    """On the writer: index the column unless an index already leads with it or the class has its
    ``MAX_PER_CLASS`` automatic indexes. False when nothing was created."""
    table = quote(class_name)
    columns = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
    if field_name not in columns:  # the field was deleted (or the class dropped) meanwhile
        return False
    automatic = 0
    for index in connection.execute(f"PRAGMA index_list({table})").fetchall():
        name = str(index[1])
        automatic += name.startswith(PREFIX)
        leading = connection.execute(f"PRAGMA index_info({quote(name)})").fetchone()
        if leading is not None and leading[2] == field_name:
            return False
    if automatic >= MAX_PER_CLASS:
        return False
    name = quote(index_name(class_name, field_name))
    connection.execute(f"CREATE INDEX {name} ON {table} ({quote(field_name)})")
    return True


def existing(connection: sqlite3.Connection) -> dict[str, frozenset[str]]:
    """Class → fields with an automatic index, as the database holds them (read when the store opens)."""
    found: dict[str, set[str]] = {}
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'auto:%'")
    for (name,) in rows:
        _, class_name, field_name = str(name).split(":", 2)
        found.setdefault(class_name, set()).add(field_name)
    return {class_name: frozenset(fields) for class_name, fields in found.items()}


class AutoIndexer:
    """Counts long reads per (class, field) on the loop's thread and asks the writer for an index when a
    field reaches its threshold. A field whose attempt made nothing (already indexed, class full) waits
    twice as many long reads before the next attempt, so a query that stays long costs the writer little.

    Only finds without an explicit order (and counts) vote: an ordered find's plan walks its order, and
    reads compile comparisons on automatically indexed fields so that an ordered find keeps that plan
    (``sidecar.store.reads``), using :attr:`indexed`."""

    def __init__(
        self,
        create: CreateIndex,
        indexed: Mapping[str, frozenset[str]] | None = None,
        threshold: int = SCANS_BEFORE_INDEX,
    ) -> None:
        self._create = create
        self._threshold = threshold
        self._scans: dict[tuple[str, str], int] = {}
        self._next: dict[tuple[str, str], int] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self.indexed: Mapping[str, frozenset[str]] = dict(indexed or {})
        """Class → fields with an automatic index; replaced (never changed in place) when one is made,
        so a read on another thread holds one consistent value. A field deleted since may stay listed:
        an ordered find then merely does without an index that is gone."""

    def note_long_read(self, schema: ClassSchema | None, where: Mapping[str, Any]) -> None:
        """A read of ``schema``'s class with this filter ran too long for the loop's budget."""
        if schema is None or not isinstance(where, Mapping):
            return
        for field_name in compared_fields(schema, where):
            key = (schema.class_name, field_name)
            scans = self._scans.get(key, 0) + 1
            if scans < self._next.get(key, self._threshold):
                self._scans[key] = scans
                continue
            self._scans[key] = 0
            self._next[key] = self._next.get(key, self._threshold) * 2
            task = asyncio.get_running_loop().create_task(self._attempt(key))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _attempt(self, key: tuple[str, str]) -> None:
        try:
            created = await self._create(*key)
        except Exception as error:  # an index is an optimisation: a failure leaves the reads as they were
            log.warning("store.auto_index_failed", class_name=key[0], field=key[1], error=str(error))
            return
        if created:
            self._next.pop(key, None)  # if it is dropped with its field later, the count starts over
            class_name, field_name = key
            fields = self.indexed.get(class_name, frozenset()) | {field_name}
            self.indexed = {**self.indexed, class_name: fields}
            log.info("store.auto_index_created", class_name=class_name, field=field_name)

    async def drain(self) -> None:
        """Wait for attempts under way (the store's close)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
