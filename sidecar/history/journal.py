"""``RunJournal``: the final row of every answered run, on disk before its answer leaves the process.

The writer commits runs a few milliseconds after they answer (it gathers rows into batches), so a
process kill in between would lose runs whose callers already have their answer. The journal closes
that gap cheaply: when a run's final execution row is queued, the row (one compact JSON line, no
steps) is appended with one ``write`` to ``executions.answered.<0|1>.jsonl`` in the data directory.
A ``write`` that returned is in the kernel's page cache, which survives a kill of the process (not a
power cut: neither does the database's WAL with ``synchronous=NORMAL``). Cost: about 2 µs per run.

Two files alternate so that neither grows: lines go to the *current* file; when the writer takes a
batch it :meth:`switch`\\ es files, and once that batch is committed it :meth:`release`\\ s (truncates)
the file that held the batch's lines. Batches commit one after another, so by the next switch the
other file is empty again. A batch that failed to commit has its lines copied to
``executions.answered.unwritten.jsonl`` first (:meth:`keep`), so the next start restores them.

At start, before the writer runs, :func:`read_answered` collects the rows of every journal file;
the history restores those the database lacks (``db_write.recover_answered``) and only then opens
the journal afresh, emptying the files. A clean close removes them.

What the journal cannot help with: a run cut by the kill before it answered and before its
``running`` row was committed (within ~10 ms of its start) leaves no trace; its caller got no answer.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

import orjson
import structlog

from sidecar.history.rows import ExecutionRow

FILE_NAMES = ("executions.answered.0.jsonl", "executions.answered.1.jsonl")
UNWRITTEN_NAME = "executions.answered.unwritten.jsonl"
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


class RunJournal:
    """Appends answered runs' final rows; see the module notes for the protocol with the writer."""

    def __init__(self, directory: Path, fds: tuple[int, int]) -> None:
        self.directory = directory
        self._fds = fds
        self._current = 0
        self.failures = 0
        """Appends or truncations that failed (the run itself is unaffected)."""
        self.last_error: str | None = None

    @classmethod
    def open(cls, directory: Path) -> RunJournal:
        """Create (or empty) both files and drop the unwritten file; call once its rows are restored."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        first = os.open(directory / FILE_NAMES[0], flags, 0o600)
        try:
            second = os.open(directory / FILE_NAMES[1], flags, 0o600)
        except OSError:
            os.close(first)
            raise
        (directory / UNWRITTEN_NAME).unlink(missing_ok=True)
        return cls(directory, (first, second))

    # ---- the run's hot path ---------------------------------------------------------------------------
    def append(self, row: ExecutionRow) -> None:
        """One line for one answered run; never raises."""
        try:
            _write_all(self._fds[self._current], _line(row))
        except (OSError, ValueError) as error:
            self._failed("append", error)

    # ---- the writer's side ------------------------------------------------------------------------------
    def switch(self) -> int:
        """The writer takes a batch: its lines are in the current file, which is returned (as a token for
        :meth:`release` / :meth:`keep`); later lines go to the other file."""
        taken = self._current
        self._current = 1 - taken
        return taken

    def release(self, taken: int) -> None:
        """The batch whose lines are in ``taken`` is committed: empty that file."""
        try:
            os.ftruncate(self._fds[taken], 0)
        except OSError as error:
            self._failed("release", error)

    def keep(self, taken: int) -> None:
        """The batch whose lines are in ``taken`` failed to commit: move its lines to the unwritten file,
        which only the next start reads, so the file can be reused."""
        try:
            data = (self.directory / FILE_NAMES[taken]).read_bytes()
            fd = os.open(self.directory / UNWRITTEN_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
        except OSError as error:
            self._failed("keep", error)
        self.release(taken)

    def close(self, *, remove: bool) -> None:
        """Close both files; ``remove`` (a clean stop, everything committed) deletes them too."""
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        if remove:
            for name in FILE_NAMES:
                (self.directory / name).unlink(missing_ok=True)

    def _failed(self, action: str, error: Exception) -> None:
        self.failures += 1
        self.last_error = f"{action}: {error}"
        if self.failures == 1 or self.failures % 1000 == 0:  # loud, but not once per run on a full disk
            log.error("answered-runs journal failed", action=action, error=str(error), failures=self.failures)


def journal_paths(directory: Path) -> list[Path]:
    return [directory / name for name in (*FILE_NAMES, UNWRITTEN_NAME)]


def read_answered(directory: Path) -> list[ExecutionRow]:
    """Every final row the journal files hold (a later line for the same run wins). A line that is not
    a whole row (a torn write after a power cut) is skipped."""
    rows: dict[str, ExecutionRow] = {}
    for path in journal_paths(directory):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        for row in _parse_lines(data.splitlines()):
            rows[row.id] = row
    return list(rows.values())


def _parse_lines(lines: Iterable[bytes]) -> Iterable[ExecutionRow]:
    for line in lines:
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
