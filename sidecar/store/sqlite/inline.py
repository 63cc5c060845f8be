"""Short reads on the event loop's own thread; a read that turns out long goes to the reader threads.

Handing a read to a reader thread and back costs more than a short read itself: the queue and the wake-ups
(~25 µs of CPU), and the GIL passing between the threads at every SQLite call of the read (BEGIN, each row,
COMMIT), which under load is most of a page query's cost. A fetch by id, or a page found through an index,
is ~20 µs of SQLite. So a read that its caller gives a *shape* (what kind of read it is, without its values:
:mod:`sidecar.store.read_shape`) is first run here, on a connection of the loop's thread, under a budget
of SQLite VM instructions (a scan takes ~4 per row it visits). Past the budget SQLite interrupts the
statement, the read is abandoned (it wrote nothing) and the caller runs it again on a reader thread, where
it has its full time limit. The loop is never held longer than the budget.

A shape that ran out of budget is remembered (the most recent ``MEMORY`` of them), so a query that scans
a table goes to a reader thread directly instead of paying for the budget every time. One run in
``PROBE_EVERY`` of a remembered shape is tried here again, so a shape that became cheap (an index was
added, rows were deleted) comes back.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from sidecar.store.sqlite.connection import open_connection
from sidecar.store.sqlite.writer import translate

T = TypeVar("T")

DEFAULT_BUDGET = 8_000
"""SQLite VM instructions a read may take here: ~2,000 rows scanned, ~100 µs; a 10-row page found through
an index takes ~300, a fetch by id fewer."""

PROGRESS_EVERY = 500
"""SQLite counts the budget down in steps of this many instructions."""

MEMORY = 256
PROBE_EVERY = 64


class OverBudget(Exception):
    """The read needs more than the budget (or a lock this thread must not wait for): run it on a reader
    thread."""


def _busy(exc: BaseException | None) -> bool:
    """Whether SQLite answered SQLITE_BUSY somewhere in ``exc``'s chain (a read may translate errors)."""
    while exc is not None:
        code = getattr(exc, "sqlite_errorcode", None)
        if (
            isinstance(exc, sqlite3.OperationalError)
            and code is not None
            and code & 0xFF == sqlite3.SQLITE_BUSY
        ):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class InlineReader:
    """One connection, no lock: it serves the thread that made the reader (the event loop's, where the
    store is opened); reads from any other thread go to the reader threads, as before."""

    def __init__(self, path: str, budget: int = DEFAULT_BUDGET) -> None:
        self._path = path
        self._steps = max(1, budget // PROGRESS_EVERY)
        self._connection: sqlite3.Connection | None = None
        self._heavy: OrderedDict[Hashable, int] = OrderedDict()  # shape → runs since it was last tried here
        self._owner = threading.get_ident()

    def wants(self, shape: Hashable) -> bool:
        """Whether to try a read of this shape here (else straight to a reader thread)."""
        if threading.get_ident() != self._owner:
            return False
        runs = self._heavy.get(shape)
        if runs is None:
            return True
        if runs + 1 >= PROBE_EVERY:
            self._heavy[shape] = 0
            return True
        self._heavy[shape] = runs + 1
        return False

    def remembers(self, shape: Hashable) -> bool:
        """Whether reads of this shape were found too long for the budget (and go to a reader thread)."""
        return shape in self._heavy

    def run(self, job: Callable[[sqlite3.Connection], T], shape: Hashable) -> T:
        """``job`` against one snapshot, or :class:`OverBudget` (the shape is then remembered)."""
        left = self._steps

        def over() -> bool:
            nonlocal left
            left -= 1
            return left < 0

        try:
            connection = self._open()
            connection.set_progress_handler(over, PROGRESS_EVERY)
            connection.execute("BEGIN")  # one snapshot for every statement of the job
            try:
                result = job(connection)
            finally:
                _end_snapshot(connection)
        except Exception as exc:
            # Whatever the job made of SQLite's "interrupted" (a read may translate errors), running out of
            # budget is not the read's answer: it is asked again where it may run longer.
            if left < 0:
                self._remember(shape)
                raise OverBudget() from exc
            if _busy(exc):
                raise OverBudget() from exc
            if isinstance(exc, sqlite3.Error | OverflowError):  # as on a reader thread
                raise translate(exc) from exc
            raise
        self._heavy.pop(shape, None)
        return result

    def _open(self) -> sqlite3.Connection:
        if self._connection is not None and self._connection.in_transaction:
            _end_snapshot(self._connection)  # never start a read inside a snapshot a failure left open
        if self._connection is None:
            connection = open_connection(self._path, readonly=True, busy_timeout=0)
            self._connection = connection
        return self._connection

    def _remember(self, shape: Hashable) -> None:
        self._heavy[shape] = 0
        self._heavy.move_to_end(shape)
        while len(self._heavy) > MEMORY:
            self._heavy.popitem(last=False)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _end_snapshot(connection: sqlite3.Connection) -> None:
    """End the read's transaction whatever stopped the read: a snapshot left open (a COMMIT refused
    while a statement is still stepping, or cut short by the budget's progress handler) would make every
    later read on this connection fail with "cannot start a transaction within a transaction"."""
    connection.set_progress_handler(None, 0)
    try:
        connection.execute("COMMIT")
    except sqlite3.Error:
        connection.execute("ROLLBACK")  # a read-only snapshot: nothing is lost
