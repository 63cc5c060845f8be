"""Reader connections, each used by one worker thread; a read is one function run against a snapshot."""

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


class ReadPool:
    def __init__(self, path: str, size: int = 2, time_limit: float = 10.0) -> None:
        self._path = path
        self._time_limit = time_limit
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="store-reader")

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
                with sqlfuncs.regex_deadline(deadline):
                    return job(connection)
            finally:
                connection.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            regex_timed_out = sqlfuncs.take_regex_timeout()
            if regex_timed_out or (time.monotonic() > deadline and "interrupt" in str(exc)):
                raise QueryTimeoutError(f"the query ran longer than {time_limit:g} s") from exc
            raise translate(exc) from exc
        except sqlite3.Error as exc:
            raise translate(exc) from exc

    async def submit(self, job: ReadJob[T], *, limited: bool = True) -> T:
        """Run ``job`` on a reader; ``limited=False`` lifts the time limit (exports of a whole database)."""
        time_limit = self._time_limit if limited else math.inf
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, job, time_limit)

    async def close(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, wait=True)
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
