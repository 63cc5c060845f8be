"""Reading an embedded backend for the migration: its records file and its history file, read-only, each
in one read transaction (a consistent snapshot even while the backend writes; WAL lets both go on).

Rows come out already in the PostgreSQL stores' layout (``sidecar.store.postgres.tables``,
``sidecar.history.pg_schema``), in chunks, so a large backend never sits in memory whole. Every function
here is synchronous: the migration calls them on a worker thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sidecar.history.db_read import EXEC_SELECT, STEP_SELECT
from sidecar.history.rows import ExecutionRow, SearchText, StepRow
from sidecar.history.sqlite_store import FILE_NAME as HISTORY_FILE
from sidecar.store import catalog
from sidecar.store.acl import lists_to_acl
from sidecar.store.names import join_table, quote
from sidecar.store.postgres.store import _acl_of, _perm_lists
from sidecar.store.records import decode_row
from sidecar.store.schema import ClassSchema

CHUNK_ROWS = 1_000


@dataclass(frozen=True)
class RecordRow:
    """One record as ``noodl_records`` holds it."""

    class_name: str
    object_id: str
    created_at: str
    updated_at: str
    doc: dict[str, Any]
    rperm: list[str] | None
    wperm: list[str] | None
    secret: str | None


@dataclass(frozen=True)
class HistoryChunk:
    executions: list[ExecutionRow]
    steps: list[StepRow]
    search: list[SearchText]


def records_path(data_dir: Path) -> Path:
    return data_dir / "data" / "local.db"


def history_path(data_dir: Path) -> Path:
    return data_dir / HISTORY_FILE


def _read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection holding one read transaction (the snapshot) until it is closed."""
    connection = sqlite3.connect(
        f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
    )
    connection.row_factory = sqlite3.Row
    connection.execute("BEGIN")
    return connection


class RecordsSource:
    """The records file: schemas, each class's rows and relation pairs, counts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection = _read_only(path)
        self.schemas: dict[str, ClassSchema] = catalog.load(self._connection)

    def count(self, class_name: str) -> int:
        return int(self._connection.execute(f"SELECT count(*) FROM {quote(class_name)}").fetchone()[0])

    def relation_count(self, class_name: str, field: str) -> int:
        table = quote(join_table(class_name, field))
        return int(self._connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def records(self, schema: ClassSchema) -> Iterator[list[RecordRow]]:
        """The class's rows in chunks, by objectId."""
        cursor = self._connection.execute(f'SELECT * FROM {quote(schema.class_name)} ORDER BY "objectId"')
        hashes = schema.class_name == "_User"
        while chunk := cursor.fetchmany(CHUNK_ROWS):
            yield [self._record(schema, row, hashes) for row in chunk]

    @staticmethod
    def _record(schema: ClassSchema, row: sqlite3.Row, hashes: bool) -> RecordRow:
        doc = decode_row(schema, row)
        for name in schema.relations():
            doc.pop(name, None)  # relation markers come from the schema; the pairs are rows of their own
        # The ACL as the PostgreSQL store writes it: principal arrays (None: public), and the document's
        # ACL made back from them.
        rperm, wperm = _perm_lists(lists_to_acl(row["_rperm"], row["_wperm"]))
        doc.pop("ACL", None)
        acl = _acl_of(rperm, wperm)
        if acl is not None:
            doc["ACL"] = acl
        columns = row.keys()
        secret = row["_hashed_password"] if hashes and "_hashed_password" in columns else None
        return RecordRow(
            schema.class_name, row["objectId"], row["createdAt"], row["updatedAt"], doc, rperm, wperm, secret
        )

    def relations(self, schema: ClassSchema, field: str) -> Iterator[list[tuple[str, str]]]:
        table = quote(join_table(schema.class_name, field))
        cursor = self._connection.execute(f'SELECT "owningId", "relatedId" FROM {table} ORDER BY 1, 2')
        while chunk := cursor.fetchmany(CHUNK_ROWS):
            yield [(owning, related) for owning, related in chunk]

    def close(self) -> None:
        self._connection.close()


class HistorySource:
    """The history file: executions with their steps and search bodies, oldest first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection = _read_only(path)

    def counts(self) -> tuple[int, int]:
        executions = self._connection.execute("SELECT count(*) FROM workflow_executions").fetchone()[0]
        steps = self._connection.execute("SELECT count(*) FROM execution_steps").fetchone()[0]
        return int(executions), int(steps)

    def chunks(self) -> Iterator[HistoryChunk]:
        cursor = self._connection.execute(
            f"SELECT {EXEC_SELECT}, e.rowid FROM workflow_executions e ORDER BY e.rowid"
        )
        width = len(ExecutionRow._fields)
        while chunk := cursor.fetchmany(CHUNK_ROWS):
            executions = [ExecutionRow(*tuple(row)[:width]) for row in chunk]
            ids = [row.id for row in executions]
            marks = ", ".join("?" * len(ids))
            steps = [
                StepRow(*row)
                for row in self._connection.execute(
                    f"SELECT {STEP_SELECT} FROM execution_steps WHERE execution_id IN ({marks})", ids
                )
            ]
            search = [
                SearchText(row[0], row[1])
                for row in self._connection.execute(
                    f"SELECT e.id, s.body FROM execution_search s JOIN workflow_executions e "
                    f"ON e.rowid = s.rowid WHERE e.id IN ({marks})",
                    ids,
                )
            ]
            yield HistoryChunk(executions, steps, search)

    def close(self) -> None:
        self._connection.close()
