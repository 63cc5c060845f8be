"""``RunJournal``: every run's execution row, on disk the moment it is queued: at its start and at its end.

The writer commits rows a few milliseconds after they are queued (it gathers them into batches), so a
process kill in between would lose runs, including runs whose callers already have their answer. The
journal closes that gap cheaply: each execution row the writer accepts (a run's ``running`` row when it
starts, its final row before it answers; no steps) is copied as one compact JSON line into
``executions.runs.<0|1>.jsonl`` in the data directory, which is mapped into memory (``mmap``, shared).
What is copied into a shared mapping is in the kernel's page cache at once, so it survives a kill of
the process (not a power cut: neither does the database's WAL with ``synchronous=NORMAL``). Cost:
about 0.8 µs per line, no system call (see ``_Segment`` for why not ``write``).

Two files alternate so that neither grows: lines go to the *current* file; when the writer takes a
batch it switches files (:meth:`~RunJournal.switch`), and once that batch is committed it zeroes the
file that held the batch's lines (:meth:`~RunJournal.release`). Batches commit one after another, so
by the next switch the other file is empty again. A batch that failed to commit has its lines copied
to ``executions.runs.unwritten.jsonl`` first (:meth:`~RunJournal.keep`), so the next start restores
them.

At start, before the writer runs, :func:`read_journal` collects the rows of every journal file (a
run's final row wins over its start); the history stores those the database lacks
(``db_write.recover_journaled``): answered runs come back as they answered, started ones as
``running`` and are then marked interrupted with the database's own unfinished rows. Only then is the
journal opened afresh, emptying the files. A clean close removes them.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
from collections.abc import Iterable
from pathlib import Path

import orjson
import structlog

from sidecar.history.rows import ExecutionRow

FILE_NAMES = ("executions.runs.0.jsonl", "executions.runs.1.jsonl")
UNWRITTEN_NAME = "executions.runs.unwritten.jsonl"
# Each file starts at 1 MiB: about 4,000 lines of a typical run (~250 bytes), far more than a batch holds
# unless the writer stalls, in which case the file doubles as needed.
SEGMENT_BYTES = 1 << 20
_FIELDS = len(ExecutionRow._fields)
_LINE_OPTIONS = orjson.OPT_APPEND_NEWLINE

log = structlog.get_logger()


def _line(row: ExecutionRow) -> bytes:
    try:
        return orjson.dumps(row, default=list, option=_LINE_OPTIONS)  # a named tuple reaches ``default``
    except orjson.JSONEncodeError:  # a lone surrogate in some text: ASCII JSON escapes it
        return (json.dumps(list(row)) + "\n").encode()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _Segment:
    """One journal file, mapped into memory: a line is copied into the mapping, no system call per run.
    Measured beside the database writer under load, an ``os.write`` per line took twice the wall time of
    the copy at the median and 3-4 times at the 99th percentile (on ext4 a write may wait for the file
    system's own journal), and it holds the event loop meanwhile. The file is filled with zeros when
    created, so its blocks exist and a line never needs allocation; everything past ``used`` is zero."""

    def __init__(self, path: Path) -> None:
        flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags, 0o600)
        try:
            _write_all(fd, bytes(SEGMENT_BYTES))
            self.map = mmap.mmap(fd, SEGMENT_BYTES)
        except (OSError, ValueError):
            os.close(fd)
            raise
        self.fd = fd
        self.used = 0

    def append(self, line: bytes) -> None:
        end = self.used + len(line)
        if end > len(self.map):
            size = len(self.map)
            while size < end:
                size *= 2
            self.map.resize(size)  # a batch larger than the file (the writer stalled): grow it, rarely
        self.map[self.used : end] = line
        self.used = end

    def lines(self) -> bytes:
        return self.map[: self.used]

    def clear(self) -> None:
        if self.used:
            self.map[: self.used] = bytes(self.used)
            self.used = 0

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.map.close()
        with contextlib.suppress(OSError):
            os.close(self.fd)


class RunJournal:
    """Appends runs' execution rows; see the module notes for the protocol with the writer."""

    def __init__(self, directory: Path, segments: tuple[_Segment, _Segment]) -> None:
        self.directory = directory
        self._segments = segments
        self._current = segments[0]
        self.failures = 0
        """Appends or copies that failed (the run itself is unaffected)."""
        self.last_error: str | None = None

    @classmethod
    def open(cls, directory: Path) -> RunJournal:
        """Create (or empty) both files and drop the unwritten file; call once its rows are restored."""
        first = _Segment(directory / FILE_NAMES[0])
        try:
            second = _Segment(directory / FILE_NAMES[1])
        except (OSError, ValueError):
            first.close()
            raise
        (directory / UNWRITTEN_NAME).unlink(missing_ok=True)
        return cls(directory, (first, second))

    # ---- the run's hot path ---------------------------------------------------------------------------
    def append(self, row: ExecutionRow) -> None:
        """One line for one execution row; never raises."""
        try:
            self._current.append(_line(row))
        except (OSError, ValueError) as error:
            self._failed("append", error)

    # ---- the writer's side ------------------------------------------------------------------------------
    def switch(self) -> int:
        """The writer takes a batch: its lines are in the current file, whose index is returned (for
        :meth:`release` / :meth:`keep`); later lines go to the other file."""
        taken = 0 if self._current is self._segments[0] else 1
        self._current = self._segments[1 - taken]
        return taken

    def release(self, taken: int) -> None:
        """The batch whose lines are in file ``taken`` is committed: empty that file."""
        self._segments[taken].clear()

    def keep(self, taken: int) -> None:
        """The batch whose lines are in file ``taken`` failed to commit: copy its lines to the unwritten
        file, which only the next start reads, so the file can be reused."""
        try:
            fd = os.open(self.directory / UNWRITTEN_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                _write_all(fd, self._segments[taken].lines())
            finally:
                os.close(fd)
        except OSError as error:
            self._failed("keep", error)
        self.release(taken)

    def close(self, *, remove: bool) -> None:
        """Unmap and close both files; ``remove`` (a clean stop, everything committed) deletes them too."""
        for segment in self._segments:
            segment.close()
        if remove:
            for name in FILE_NAMES:
                (self.directory / name).unlink(missing_ok=True)

    def _failed(self, action: str, error: Exception) -> None:
        self.failures += 1
        self.last_error = f"{action}: {error}"
        if self.failures == 1 or self.failures % 1000 == 0:  # loud, but not once per run on a full disk
            log.error("runs journal failed", action=action, error=str(error), failures=self.failures)


def journal_paths(directory: Path) -> list[Path]:
    return [directory / name for name in (*FILE_NAMES, UNWRITTEN_NAME)]


def read_journal(directory: Path) -> list[ExecutionRow]:
    """The latest row of each run the journal files hold: its final row if there is one, else its start
    (the files are read in a fixed order, not the order lines were written). A line that is not a whole
    row (cut by the kill while it was copied, or torn by a power cut) is skipped."""
    rows: dict[str, ExecutionRow] = {}
    for path in journal_paths(directory):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        for row in _parse_lines(data.split(b"\n")):
            if row.status != "running" or row.id not in rows:
                rows[row.id] = row
    return list(rows.values())


def _parse_lines(lines: Iterable[bytes]) -> Iterable[ExecutionRow]:
    for line in lines:
        line = line.strip(b"\x00")  # the zeros past the last line
        if not line:
            continue
        try:
            values = json.loads(line)
        except ValueError:
            continue
        if isinstance(values, list) and len(values) == _FIELDS and _plausible(values):
            yield ExecutionRow(*values)


def _plausible(values: list[object]) -> bool:
    """The columns the database requires, with the types it requires."""
    required_text = (values[0], values[1], values[2], values[3], values[4])
    return all(isinstance(v, str) for v in required_text) and type(values[5]) is int
