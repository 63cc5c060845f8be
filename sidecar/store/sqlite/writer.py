"""One writer connection on its own thread; writes are shipped to it and committed in groups.

Lifecycle: ``start()`` → RUNNING → ``close()`` drains the queue, then stops the thread.

Each job runs inside ``SAVEPOINT`` within a shared ``BEGIN IMMEDIATE … COMMIT`` (group commit): a failing
job rolls back alone (a job alone in its group needs no savepoint: the transaction is its own), and every
job's future resolves only after the COMMIT returned, so an acknowledged write is on disk (WAL). Jobs return
``(result, events)``; events are handed to ``on_commit`` after the commit, in job order, and are dropped with
a rolled-back job.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog

from sidecar.errors import (
    InvalidJsonError,
    InvalidQueryError,
    QueryTimeoutError,
    RequestFailedError,
    StorageError,
)
from sidecar.store import sqlfuncs
from sidecar.store.catalog import WorkingCatalog
from sidecar.store.sqlite.checkpointer import Checkpointer

T = TypeVar("T")
log = structlog.get_logger()

WriteJob = Callable[[sqlite3.Connection, WorkingCatalog], tuple[T, Sequence[Any]]]
CommitHook = Callable[[dict[str, Any], list[Any]], None]
"""Called on the event loop after each commit with the published schemas and the events."""


# SQLite's answers to a statement too big or too deep to compile: the request's fault, not the database's.
_TOO_COMPLEX = ("parser stack overflow", "Expression tree is too large", "too many SQL variables")


def translate(exc: Exception) -> Exception:
    """sqlite3 failures become :class:`StorageError`, text SQLite cannot store is 107, a query too complex
    for SQLite or a number beyond its 64-bit integers is 102; ours pass through."""
    if isinstance(exc, sqlite3.Error):
        if sqlfuncs.take_regex_timeout():
            return QueryTimeoutError("a $regex match ran out of time")
        if any(marker in str(exc) for marker in _TOO_COMPLEX):
            return InvalidQueryError(f"the query is too complex: {exc}")
        return StorageError(f"database error: {exc}")
    if isinstance(exc, OverflowError):  # binding an int beyond SQLite's 64 bits
        return InvalidQueryError(f"a number in the request is out of range: {exc}")
    if isinstance(exc, UnicodeEncodeError):  # JSON can carry an unpaired surrogate ("\ud800"); UTF-8 cannot
        return InvalidJsonError("strings must be valid Unicode: unpaired surrogates cannot be stored")
    return exc


@dataclass
class _Pending(Generic[T]):
    job: WriteJob[T]
    future: asyncio.Future[T]


_STOP = object()


class WriteQueue:
    def __init__(
        self,
        connection: sqlite3.Connection,
        catalog: WorkingCatalog,
        on_commit: CommitHook,
        max_group: int = 500,
        checkpointer: Checkpointer | None = None,
    ) -> None:
        self._connection = connection
        self._catalog = catalog
        self._on_commit = on_commit
        self._checkpointer = checkpointer  # the writer's connection has no automatic checkpoint (see there)
        self._max_group = max_group
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        """Jobs queued and not yet taken by the writer thread (approximate, as ``qsize`` is)."""
        return self._queue.qsize()

    async def submit(self, job: WriteJob[T]) -> T:
        if self._closed or self._loop is None:
            raise RequestFailedError("the records store is closed")
        future: asyncio.Future[T] = self._loop.create_future()
        self._queue.put(_Pending(job, future))
        return await future

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        self._connection.close()

    # ---- writer thread ------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            group = [first]
            stop = False
            while len(group) < self._max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                group.append(item)
            self._run_group(group)
            if stop:
                return
            if self._checkpointer is not None:
                self._checkpointer.after_group(self._connection, idle=self._queue.empty())

    def _run_group(self, group: list[_Pending[Any]]) -> None:
        connection = self._connection
        published = self._catalog.snapshot()
        outcomes: list[tuple[_Pending[Any], Any, BaseException | None, Sequence[Any]]] = []
        try:
            connection.execute("BEGIN IMMEDIATE")
            alone = len(group) == 1
            for pending in group:
                outcomes.append(self._run_job(pending, alone=alone))
            if connection.in_transaction:  # a lone job that failed has rolled the transaction back
                connection.execute("COMMIT")
                if self._checkpointer is not None:
                    self._checkpointer.note_commit()
        except Exception as exc:  # the commit itself failed: every job of the group fails
            log.error("store.commit_failed", error=str(exc))
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            self._catalog.restore(published)
            self._deliver([(p, None, translate(exc), ()) for p in group], None)
            return
        self._deliver(outcomes, self._catalog.snapshot())

    def _run_job(
        self, pending: _Pending[Any], *, alone: bool
    ) -> tuple[_Pending[Any], Any, BaseException | None, Sequence[Any]]:
        """Run one job in a savepoint; a job alone in its group uses the transaction itself, which spares
        SQLite a copy of every page the job touches (a savepoint journals each page's first change)."""
        connection = self._connection
        before = self._catalog.snapshot()
        if not alone:
            connection.execute("SAVEPOINT job")
        try:
            result, events = pending.job(connection, self._catalog)
        except Exception as exc:
            if alone:
                connection.execute("ROLLBACK")
            else:
                connection.execute("ROLLBACK TO job")
                connection.execute("RELEASE job")
            self._catalog.restore(before)
            return pending, None, translate(exc), ()
        if not alone:
            connection.execute("RELEASE job")
        return pending, result, None, events

    def _deliver(
        self,
        outcomes: list[tuple[_Pending[Any], Any, BaseException | None, Sequence[Any]]],
        schemas: dict[str, Any] | None,
    ) -> None:
        assert self._loop is not None
        events = [event for _, _, error, job_events in outcomes if error is None for event in job_events]

        def resolve() -> None:
            if schemas is not None:
                self._on_commit(schemas, events)
            for pending, result, error, _ in outcomes:
                if pending.future.done():
                    continue
                if error is None:
                    pending.future.set_result(result)
                else:
                    pending.future.set_exception(error)

        # RuntimeError: the loop is gone (interpreter shutdown), so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(resolve)
