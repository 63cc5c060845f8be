"""``SqliteHistoryStore``: ``executions.sqlite`` behind the ``HistoryStore`` protocol.

One write connection on one thread (the single writer) and one read connection on another, so list and
get answer while a batch commits (WAL). sqlite3 errors are translated to ``HistoryStorageError`` here.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from sidecar.errors import HistoryStorageError
from sidecar.history import db_read, db_retention, db_write
from sidecar.history.db_read import ExecutionPage
from sidecar.history.interface import LightView
from sidecar.history.query import ExecutionQuery
from sidecar.history.rows import ExecutionRow, StepRow, WriteBatch
from sidecar.history.schema import connect, migrate
from sidecar.private_files import private_database, private_dir

T = TypeVar("T")
FILE_NAME = "executions.sqlite"


def open_sync(path: Path) -> sqlite3.Connection:
    """A migrated write connection (also used by scripts and crash tests that write without asyncio).
    The file is made owner-only before SQLite writes to it: recorded runs are private data."""
    private_database(path)
    connection = connect(str(path))
    migrate(connection)
    db_write.prepare(connection)
    return connection


class SqliteHistoryStore:
    def __init__(self, path: Path, writer: sqlite3.Connection, reader: sqlite3.Connection) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="history-write")
        self._read_thread = ThreadPoolExecutor(1, thread_name_prefix="history-read")

    @classmethod
    async def open(cls, path: Path) -> SqliteHistoryStore:
        """Open (creating and migrating) ``path``; raises ``HistoryStorageError`` when SQLite cannot."""

        def opened() -> tuple[sqlite3.Connection, sqlite3.Connection]:
            private_dir(path.parent)
            writer = open_sync(path)
            return writer, connect(str(path))

        try:
            writer, reader = await asyncio.to_thread(opened)
        except (sqlite3.Error, OSError) as error:
            raise HistoryStorageError(f"cannot open {path}: {error}", data={"dbPath": str(path)}) from error
        return cls(path, writer, reader)

    async def _on(self, thread: ThreadPoolExecutor, work: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(thread, work)
        except sqlite3.Error as error:
            raise HistoryStorageError(f"execution history storage failed: {error}") from error

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self._on(self._write_thread, lambda: work(self._writer))

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self._on(self._read_thread, lambda: work(self._reader))

    # ---- HistoryStore --------------------------------------------------------------------------------
    async def write(self, batch: WriteBatch) -> None:
        for part in db_write.split_batch(batch):
            document = db_write.batch_document(part)  # here, on the loop's thread: see db_write
            await self._write(functools.partial(db_write.write_document, document=document, batch=part))

    async def recover_journaled(self, rows: list[ExecutionRow]) -> int:
        return await self._write(lambda c: db_write.recover_journaled(c, rows))

    async def mark_interrupted(self) -> int:
        return await self._write(db_write.mark_interrupted)

    async def list_executions(self, query: ExecutionQuery) -> ExecutionPage:
        return await self._read(lambda c: db_read.list_page(c, query))

    async def get_execution(self, execution_id: str) -> ExecutionRow | None:
        return await self._read(lambda c: db_read.get_execution(c, execution_id))

    async def get_steps(self, execution_id: str) -> list[StepRow]:
        return await self._read(lambda c: db_read.get_steps(c, execution_id))

    async def light_view(self, execution_id: str, view: LightView[T]) -> T | None:
        def read(c: sqlite3.Connection) -> T | None:
            row = db_read.get_execution(c, execution_id)
            if row is None:
                return None
            return view(
                row, lambda: db_read.light_steps(c, execution_id), lambda ids: db_read.step_payloads(c, ids)
            )

        return await self._read(read)

    async def get_step(self, step_id: str) -> StepRow | None:
        return await self._read(lambda c: db_read.get_step(c, step_id))

    async def stats(self, workflow_id: str | None) -> dict[str, object]:
        return await self._read(lambda c: db_read.stats(c, workflow_id))

    async def delete_executions(self, ids: list[str]) -> int:
        return await self._write(lambda c: db_write.delete_executions(c, ids))

    async def matching_ids(self, query: ExecutionQuery, limit: int) -> list[str]:
        return await self._read(lambda c: db_read.matching_ids(c, query, limit))

    async def replay_rows(
        self, execution_id: str, workflow_id: str | None
    ) -> list[tuple[ExecutionRow, list[StepRow]]]:
        return await self._read(lambda c: db_read.replay_rows(c, execution_id, workflow_id))

    # ---- RetainedHistoryStore (pages and incremental vacuum) -------------------------------------------
    async def older_than(self, cutoff_ms: int, *, failed: bool | None, limit: int) -> list[str]:
        return await self._read(lambda c: db_retention.older_than(c, cutoff_ms, failed=failed, limit=limit))

    async def over_count_per_workflow(self, keep: int, *, keep_failed: bool, limit: int) -> list[str]:
        return await self._read(
            lambda c: db_retention.over_count_per_workflow(c, keep, keep_failed=keep_failed, limit=limit)
        )

    async def over_total_count(self, keep: int, *, keep_failed: bool, limit: int) -> list[str]:
        return await self._read(
            lambda c: db_retention.over_total_count(c, keep, keep_failed=keep_failed, limit=limit)
        )

    async def oldest(self, count: int, *, keep_failed: bool) -> list[str]:
        return await self._read(lambda c: db_retention.oldest(c, count, keep_failed=keep_failed))

    async def used_bytes(self) -> int:
        return await self._read(db_retention.used_bytes)

    async def reclaim(self, pages: int) -> int:
        """Hand up to ``pages`` free pages back to the file system; returns the free pages left."""

        def vacuum(connection: sqlite3.Connection) -> int:
            db_write.incremental_vacuum(connection, pages)
            return db_retention.free_pages(connection)

        return await self._write(vacuum)

    async def close(self) -> None:
        def closed(connection: sqlite3.Connection) -> None:
            connection.close()

        try:
            await self._read(closed)
            await self._write(_checkpoint_and_close)
        finally:
            self._read_thread.shutdown(wait=True)
            self._write_thread.shutdown(wait=True)


def _checkpoint_and_close(connection: sqlite3.Connection) -> None:
    db_write.checkpoint(connection)
    connection.close()
