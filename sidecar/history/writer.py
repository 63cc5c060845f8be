"""The single background writer: rows queued by recorders are committed in batches, one transaction each.

Recorders call the ``submit_*`` methods synchronously on the event loop; they only append to lists, so
the run's hot path never waits for the disk. When storage fails the batch is logged and dropped: losing
history never fails a run. Lifecycle: created → ``start()`` → running → ``stop()`` (flushes) → stopped.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from sidecar.history.interface import HistoryStore
from sidecar.history.rows import ExecutionRow, SearchText, StepRow, WriteBatch

DEFAULT_MAX_PENDING = 500_000
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
    ) -> None:
        self._store = store
        self._max_pending = max_pending
        self._linger = linger_seconds
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

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="history-writer")

    # ---- hot path --------------------------------------------------------------------------------------
    def submit_execution(self, row: ExecutionRow) -> None:
        if self._accept():
            self._batch.executions.append(row)

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
                await self._commit(batch)
                self._written = upto
                self._release_waiters()
            if self._stopping:
                return

    async def _commit(self, batch: WriteBatch) -> None:
        try:
            await self._store.write(batch)
            self.batches += 1
        except Exception as error:  # history must never take the runtime down with it
            self.dropped += len(batch)
            self.last_error = str(error)
            log.error("execution history batch lost", rows=len(batch), error=str(error))

    def _release_waiters(self) -> None:
        ready = [w for w in self._waiters if w[0] <= self._written]
        self._waiters = [w for w in self._waiters if w[0] > self._written]
        for _, waiter in ready:
            if not waiter.done():
                waiter.set_result(None)
