"""The single background writer: rows queued by recorders are committed in batches, one transaction each.

Recorders call the ``submit_*`` methods synchronously on the event loop; they only append to lists, so
the run's hot path never waits for the disk. When storage fails the batch is logged and dropped: losing
history never fails a run. Lifecycle: created → ``start()`` → running → ``stop()`` (flushes) → stopped.

The backlog is bounded, and overload is declared rather than hidden:

- ``backlog_runs`` counts answered runs whose rows are queued or being committed. At or above
  ``summary_above`` (default 1,000) a run that starts is recorded *summary-only*: its execution row,
  no steps (the recorder asks :meth:`summary_only`). A summary run costs the writer about a sixth of a
  5-node run, so the backlog drains while runs go on at full speed. Why 1,000: the writer commits
  7,000-9,500 5-node runs/s on a free core (measured), so 1,000 runs are ~0.15 s of its work — what a
  reader, which waits for the backlog before it reads, may wait at worst in normal operation — and
  ~5 MB of queued rows (~4.8 KB per run). A steady load stays far below (a 5 ms linger of runs plus
  the batch being committed: tens of runs at 4,000 runs/s).
- ``max_pending`` (default 50,000 rows, ~30 MB at ~600 bytes a row) is the hard cap for a stalled
  disk: past it rows are refused and counted in ``dropped``.

A :class:`~sidecar.history.journal.RunJournal`, when given, receives each accepted execution row (a
run's start, and its final row before it answers), and is told which file to empty once the batch
that held them is committed.

``observers`` (``sidecar.monitoring`` adds its metrics there) are called with each committed batch, on the
writer's task after the commit: they see exactly the rows history holds, and never slow a run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from sidecar.history.interface import HistoryStore
from sidecar.history.journal import RunJournal
from sidecar.history.rows import ExecutionRow, SearchText, StepRow, WriteBatch

DEFAULT_MAX_PENDING = 50_000
DEFAULT_SUMMARY_ABOVE = 1_000
# How long the writer lets rows gather after the first one arrives: a run's "running" row and its final
# row then usually meet in one batch and cost one write, and transactions stay few under load.
DEFAULT_LINGER_SECONDS = 0.005

log = structlog.get_logger()


class HistoryWriter:
    def __init__(
        self,
        store: HistoryStore,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        linger_seconds: float = DEFAULT_LINGER_SECONDS,
        summary_above: int = DEFAULT_SUMMARY_ABOVE,
        journal: RunJournal | None = None,
    ) -> None:
        self._store = store
        self._max_pending = max_pending
        self._linger = linger_seconds
        self.summary_above = summary_above
        self._journal = journal
        self._answered = 0  # final execution rows accepted so far
        self._answered_written = 0  # … of which committed (or lost with a failed batch)
        self._batch = WriteBatch()
        self._wake = asyncio.Event()
        self._hurry = asyncio.Event()  # a reader waits: end the linger now
        self._submitted = 0
        self._written = 0
        self._taken = 0  # submissions handed to a batch so far; submitted - taken = pending rows
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.dropped = 0
        """Rows refused (queue full) or lost (a failed batch) since start."""
        self.last_error: str | None = None
        self.batches = 0
        self.summary_runs = 0
        """Runs recorded summary-only because the backlog was at ``summary_above`` when they started."""
        self.steps_not_recorded = 0
        """Node updates of summary-only runs that sent output or failed: the steps they would have had."""
        self.observers: list[Callable[[WriteBatch], None]] = []
        self.submitted: Callable[[ExecutionRow], None] | None = None
        """Called with each execution row as it is accepted, before any commit (the live feed)."""
        """Called with every committed batch (see the module notes); one that raises is logged, not fatal."""

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="history-writer")

    # ---- figures -----------------------------------------------------------------------------------------
    @property
    def backlog_runs(self) -> int:
        """Answered runs whose rows are queued or being committed."""
        return self._answered - self._answered_written

    @property
    def backlog_rows(self) -> int:
        return self._submitted - self._written

    def summary_only(self) -> bool:
        """Should a run starting now be recorded without its steps? (see the module notes)"""
        return self._answered - self._answered_written >= self.summary_above

    def figures(self) -> dict[str, object]:
        """What ``/health`` and the history's stats show about recording (camelCase, JSON-ready)."""
        journal = self._journal
        return {
            "backlogRuns": self.backlog_runs,
            "backlogRows": self.backlog_rows,
            "summaryOnlyAbove": self.summary_above,
            "summaryOnlyRuns": self.summary_runs,
            "stepsNotRecorded": self.steps_not_recorded,
            "droppedRows": self.dropped,
            "journal": journal is not None,
            "journalFailures": 0 if journal is None else journal.failures,
            "lastError": self.last_error,
        }

    # ---- hot path --------------------------------------------------------------------------------------
    def submit_execution(self, row: ExecutionRow) -> None:
        if self._accept():
            self._batch.executions.append(row)
            if self._journal is not None:  # before the run answers: see journal
                self._journal.append(row)
            if row.status != "running":  # an answered (or rejected) run
                self._answered += 1
            if self.submitted is not None:
                self.submitted(row)

    def submit_step(self, row: StepRow) -> None:
        # _accept, inlined: several steps per run
        if self._submitted - self._taken < self._max_pending and not self._stopping:
            self._submitted += 1
            self._batch.steps.append(row)
            self._wake.set()
        else:
            self.dropped += 1

    def submit_search(self, text: SearchText) -> None:
        if self._accept():
            self._batch.search.append(text)

    def _accept(self) -> bool:
        if self._submitted - self._taken >= self._max_pending or self._stopping:
            self.dropped += 1
            return False
        self._submitted += 1
        self._wake.set()
        return True

    # ---- background ------------------------------------------------------------------------------------
    async def flush(self) -> None:
        """Wait until everything submitted so far is committed (or dropped after a storage failure)."""
        if self._written >= self._submitted or self._task is None:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((self._submitted, waiter))
        self._hurry.set()
        await waiter

    async def stop(self) -> None:
        await self.flush()
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._journal is not None:
            # Everything accepted is committed; rows of a batch that failed are in the unwritten file.
            self._journal.close(remove=True)
            self._journal = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            if self._linger and not self._stopping and not self._hurry.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._hurry.wait(), self._linger)
            self._wake.clear()
            self._hurry.clear()
            while len(self._batch):
                batch, self._batch = self._batch, WriteBatch()
                upto = self._taken = self._submitted
                answered = self._answered
                journal = self._journal
                lines = journal.switch() if journal is not None else 0
                committed = await self._commit(batch)
                # Before the waiters are released: a run deleted after a flush must not come back.
                if journal is not None and committed:
                    journal.release(lines)
                elif journal is not None:
                    journal.keep(lines)
                if committed and self.observers:
                    self._tell_observers(batch)
                self._written = upto
                self._answered_written = answered
                self._release_waiters()
            if self._stopping:
                return

    async def _commit(self, batch: WriteBatch) -> bool:
        try:
            await self._store.write(batch)
            self.batches += 1
            return True
        except Exception as error:  # history must never take the runtime down with it
            self.dropped += len(batch)
            self.last_error = str(error)
            log.error("execution history batch lost", rows=len(batch), error=str(error))
            return False

    def _tell_observers(self, batch: WriteBatch) -> None:
        for observer in self.observers:
            try:
                observer(batch)
            except Exception as error:  # metrics must never stop history
                log.error("history batch observer failed", observer=repr(observer), error=repr(error))

    def _release_waiters(self) -> None:
        ready = [w for w in self._waiters if w[0] <= self._written]
        self._waiters = [w for w in self._waiters if w[0] > self._written]
        for _, waiter in ready:
            if not waiter.done():
                waiter.set_result(None)
