"""Reader connections, each used by one worker thread; a read is one function run against a snapshot.

Two sets of threads: reads whose filter calls back into Python on every row (``$regex``, ``$text``) or is
large enough to take SQLite time to plan (the caller says so with ``costly=True``) run on their own threads,
so however many of them are queued, a plain read (a fetch by id, a page of a class) finds a free reader.
Every read stops at the time limit (124), and the regular expressions of one read share one matching budget
(124 as well), so a pattern that backtracks catastrophically holds its thread for ``regex_budget`` seconds,
not for every row it is tried on.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sidecar.errors import QueryTimeoutError
from sidecar.store import sqlfuncs
from sidecar.store.sqlite.connection import open_connection
from sidecar.store.sqlite.writer import translate

T = TypeVar("T")
ReadJob = Callable[[sqlite3.Connection], T]

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
    ) -> None:
        self._path = path
        self._time_limit = time_limit
        self._regex_budget = regex_budget
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="store-reader")
        self._costly_executor = ThreadPoolExecutor(
            max_workers=costly_size, thread_name_prefix="store-reader-costly"
        )

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

    async def submit(self, job: ReadJob[T], *, limited: bool = True, costly: bool = False) -> T:
        """Run ``job`` on a reader; ``limited=False`` lifts the time limit (exports of a whole database);
        ``costly=True`` for a filter that runs Python on every row (its own threads, see the module)."""
        time_limit = self._time_limit if limited else math.inf
        executor = self._costly_executor if costly else self._executor
        return await asyncio.get_running_loop().run_in_executor(executor, self._run, job, time_limit)

    async def close(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, wait=True)
        await asyncio.to_thread(self._costly_executor.shutdown, wait=True)
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
