"""Copying the write-ahead log back into the database file without holding up a write.

SQLite's automatic checkpoint runs inside the COMMIT that pushes the log past its threshold, so that one
write waited for the whole copy (27 to 56 ms at the store's former 10,000-page threshold, one create in
about 1,700 under a steady load). The writer connection therefore runs without it, and the work is split:

* the bulk: a thread of its own, on a connection of its own, runs PASSIVE checkpoints at most every
  ``interval`` seconds while commits happen. A passive checkpoint copies what no reader still needs and
  never waits for the writer or a reader (SQLite gives it no busy handler).
* the tail: a passive checkpoint never catches up with a log that is still being written, and SQLite only
  starts the log over (at the next write's BEGIN) once one has. When the log has passed ``wrap_frames``,
  the checkpointer asks the writer, which between two groups runs one more passive checkpoint itself:
  no write can land meanwhile, so it copies the last few frames and the log starts over. The writer does
  it when its queue is empty, or regardless once the log passes ``2 * wrap_frames`` (a writer that is
  never idle), so the log stays bounded. That tail costs the writer two small syncs (~1-3 ms here) once
  per ``wrap_frames``, where the automatic checkpoint cost it the whole copy.

No RESTART or FULL checkpoint: those hold the write lock while they wait for every reader of the log,
which would stall writes for as long as the slowest read (seconds for a large export).

Lifecycle: ``start()`` → running → ``close()`` (one last passive checkpoint, then the thread stops).
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass

import structlog

log = structlog.get_logger()

DEFAULT_WRAP_FRAMES = 10_000
"""Pages of log (~40 MB, the former automatic threshold) past which the log is started over. Each start-over
costs the writer one small checkpoint: at 4,096 pages its p99.9 create latency doubled (1 → 2 ms)."""

HARD_LIMIT_FACTOR = 2
"""A writer that is never idle finishes the tail anyway once the log is this many times ``wrap_frames``."""


def passive_checkpoint(connection: sqlite3.Connection) -> tuple[bool, int, int]:
    """One passive checkpoint: (busy, frames in the log, frames copied into the database file)."""
    busy, frames, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return bool(busy), int(frames), int(copied)


@dataclass(frozen=True)
class CheckpointConfig:
    wrap_frames: int = DEFAULT_WRAP_FRAMES
    interval: float = 0.1
    """Seconds between two passes of the checkpointer thread: the log grows by this much writing between
    passes, and each pass copies each page changed meanwhile once."""


class Checkpointer:
    def __init__(self, path: str, config: CheckpointConfig | None = None) -> None:
        chosen = config or CheckpointConfig()
        self._path = path
        self._interval = chosen.interval
        self._wrap_frames = chosen.wrap_frames
        self._wake = threading.Event()  # a commit happened since the last checkpoint
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Written by the checkpointer thread, read by the writer thread: single stores, no lock needed.
        self._log_frames = 0
        self._tail_wanted = False
        self._commits = 0  # since the tail was last finished; the writer thread's own

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="store-checkpointer", daemon=True)
        self._thread.start()

    def note_commit(self) -> None:
        """Called by the writer after each commit: cheap, never waits."""
        self._commits += 1
        self._wake.set()

    def after_group(self, connection: sqlite3.Connection, *, idle: bool) -> None:
        """Called by the writer between groups (``idle``: nothing queued): finish the tail if asked to.

        Every commit adds at least one frame, so ``wrap_frames`` commits also make the tail due: the log
        stays bounded even while the checkpointer thread gets no time (a busy process can starve it of
        the GIL for a while), at the price of a bigger tail then."""
        limit = HARD_LIMIT_FACTOR * self._wrap_frames
        if not self._tail_wanted and self._commits < self._wrap_frames:
            return
        if not idle and self._log_frames < limit and self._commits < limit:
            return
        try:
            busy, frames, copied = passive_checkpoint(connection)
        except sqlite3.Error as error:  # the database is unwell; the write path reports that by itself
            log.warning("store.checkpoint_failed", error=str(error))
            return
        # Busy: the checkpointer thread holds the checkpoint lock right now; try after the next group. Short
        # of the end: a reader still reads the old frames; the next pass asks again.
        if not busy and copied == frames:
            self._tail_wanted = False
            self._commits = 0

    def close(self) -> None:
        """Stop the thread (after one last checkpoint); the caller has stopped the writer."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()

    # ---- checkpointer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            while True:
                self._wake.wait()
                if self._stop.is_set():
                    break
                self._wake.clear()
                self._checkpoint(connection)
                # Commits meanwhile only set the flag again; the next pass copies them together.
                if self._stop.wait(self._interval):
                    break
            self._checkpoint(connection)
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            busy, frames, copied = passive_checkpoint(connection)
            if not busy and frames - copied > 64:  # many frames came in during the pass: copy them too,
                busy, frames, copied = passive_checkpoint(connection)  # so that the tail stays short
        except sqlite3.Error as error:  # retried after the next commit
            log.warning("store.checkpoint_failed", error=str(error))
            return
        if busy:  # the writer is finishing a tail right now: nothing was learnt, the next pass will tell
            self._wake.set()
            return
        self._log_frames = frames
        self._tail_wanted = frames >= self._wrap_frames
