"""Reader connections, each used by one worker thread; a read is one function run against a snapshot.

Two sets of threads: reads whose filter calls back into Python on every row (``$regex``, ``$text``) or is
large enough to take SQLite time to plan (the caller says so with ``costly=True``) run on their own threads,
so however many of them are queued, a plain read (a fetch by id, a page of a class) finds a free reader.
Every read stops at the time limit (124), and the regular expressions of one read share one matching budget
(124 as well), so a pattern that backtracks catastrophically holds its thread for ``regex_budget`` seconds,
not for every row it is tried on.

A read given a shape is first tried on the event loop's own thread under a small budget (see
:mod:`sidecar.store.sqlite.inline`); only the reads that need more come to the threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sidecar.errors import QueryTimeoutError
from sidecar.store import sqlfuncs
from sidecar.store.sqlite.connection import open_connection
from sidecar.store.sqlite.inline import DEFAULT_BUDGET, InlineReader, OverBudget
from sidecar.store.sqlite.writer import translate

T = TypeVar("T")
ReadJob = Callable[[sqlite3.Connection], T]
_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", ReadJob[Any], float]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled meanwhile
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


DEFAULT_REGEX_BUDGET = 2.0
"""Seconds of regex matching one read may spend in total: ~1 µs a row leaves room for a million rows."""


class ReadPool:
    def __init__(
        self,
        path: str,
        size: int = 2,
        time_limit: float = 10.0,
        *,
        costly_size: int = 2,
        regex_budget: float = DEFAULT_REGEX_BUDGET,
        inline_budget: int = DEFAULT_BUDGET,
    ) -> None:
        """``inline_budget``: SQLite VM instructions a shaped read may take on the loop's thread (0: none)."""
        self._path = path
        self._inline = InlineReader(path, inline_budget) if inline_budget > 0 else None
        self._time_limit = time_limit
        self._regex_budget = regex_budget
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        # Plain queues and threads rather than a ThreadPoolExecutor: a read hands off to a thread and back
        # for ~25 µs of CPU instead of ~47 µs (concurrent.futures' Future and its chaining to asyncio),
        # which every get and query pays.
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._costly_queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._workers = [
            (threading.Thread(target=self._work, args=(jobs,), name=f"{name}-{i}", daemon=True), jobs)
            for jobs, name, count in (
                (self._queue, "store-reader", size),
                (self._costly_queue, "store-reader-costly", costly_size),
            )
            for i in range(count)
        ]
        for thread, _ in self._workers:
            thread.start()

    def _work(self, jobs: queue.SimpleQueue[_Job | None]) -> None:
        while (item := jobs.get()) is not None:
            loop, future, job, time_limit = item
            if future.cancelled():  # its caller gave up while it waited (a benign racy read)
                continue
            try:
                outcome: tuple[Any, BaseException | None] = (self._run(job, time_limit), None)
            except BaseException as exc:  # handed to the awaiting caller, whatever it is
                outcome = (None, exc)
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, future, *outcome)

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = open_connection(self._path, readonly=True)
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def _run(self, job: ReadJob[T], time_limit: float) -> T:
        deadline = time.monotonic() + time_limit
        try:
            connection = self._connection()
            # SQLite calls this every N VM steps; a true result interrupts the statement (a runaway scan).
            connection.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
            connection.execute("BEGIN")  # one snapshot for every statement of the job
            try:
                with sqlfuncs.regex_budget(self._regex_budget, deadline):
                    return job(connection)
            finally:
                connection.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if sqlfuncs.take_regex_timeout():
                raise QueryTimeoutError(
                    f"the query's $regex matching ran out of time ({self._regex_budget:g} s per query)"
                ) from exc
            if time.monotonic() > deadline and "interrupt" in str(exc):
                raise QueryTimeoutError(f"the query ran longer than {time_limit:g} s") from exc
            raise translate(exc) from exc
        except (sqlite3.Error, OverflowError) as exc:
            raise translate(exc) from exc

    async def submit(
        self,
        job: ReadJob[T],
        *,
        limited: bool = True,
        costly: bool = False,
        shape: Hashable | None = None,
        on_long: Callable[[], None] | None = None,
    ) -> T:
        """Run ``job`` on a reader; ``limited=False`` lifts the time limit (exports of a whole database);
        ``costly=True`` for a filter that runs Python on every row (its own threads, see the module);
        ``shape`` (:mod:`sidecar.store.read_shape`): try it on the loop's thread first. ``on_long`` is
        called when a shaped read is too long for the loop's budget (it then runs on a reader thread)."""
        inline = self._inline
        if shape is not None and inline is not None and limited and not costly:
            if inline.wants(shape):
                try:
                    return inline.run(job, shape)
                except OverBudget:
                    pass
            if on_long is not None and inline.remembers(shape):
                on_long()
        time_limit = self._time_limit if limited else math.inf
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        (self._costly_queue if costly else self._queue).put((loop, future, job, time_limit))
        return await future

    async def close(self) -> None:
        """Queued reads still run; then the threads stop and the connections close."""
        for _, jobs in self._workers:
            jobs.put(None)
        for thread, _ in self._workers:
            await asyncio.to_thread(thread.join)
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        if self._inline is not None:
            self._inline.close()
