"""``ExecutionHistory``: the history of one backend, wired in one place — store, writer, recorder,
retention and replay — with the methods the IPC and HTTP doors call.

Lifecycle: ``open()`` → enabled | turned off by config (nothing recorded; queries answer empty) |
unavailable (SQLite cannot open the file: a loud status, queries raise ``HistoryStorageError``; runs
still work, unrecorded) → ``close()`` flushes the writer and stops retention.

Crash recovery at ``open()``: runs the last process journaled but never committed come back
(``metadata.recovered``; answered ones as they answered), then rows still ``running`` become
interrupted errors; the counts of the last open are in :attr:`recording` beside the writer's backlog
figures (``/health`` shows them).

Door mapping (the doors own transport and error translation):

- ``execution-history:list`` / ``GET /executions`` → :meth:`list_executions` (HTTP: ``["executions"]`` bare)
- ``execution-history:get`` / ``GET /executions/:id`` → :meth:`get_execution` (None → null / 404)
- ``execution-history:stats``, ``:delete``, ``:clear`` → :meth:`stats`, :meth:`delete`, :meth:`clear`
- ``GET /executions/stream`` → ``sidecar.events.replay_and_follow(bus, history, backend_id, …)``
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from sidecar.errors import ExecutionNotFoundError, HistoryStorageError
from sidecar.events import EventBus, EventPosition, ExecutionEvent
from sidecar.history.empty_store import EmptyHistoryStore
from sidecar.history.event_build import replay_execution
from sidecar.history.interface import HistoryStore, LightView, RetainedHistoryStore
from sidecar.history.journal import RunJournal, read_journal
from sidecar.history.query import ExecutionQuery
from sidecar.history.recorder import HistoryRecorder, RejectedFire, RunRecorder, RunTrigger
from sidecar.history.rerun import RerunRequest, rerun_request
from sidecar.history.retention import RetentionConfig, RetentionTask
from sidecar.history.rows import ExecutionRow, StepRow
from sidecar.history.shapes import execution_json, execution_with_steps_json
from sidecar.history.sqlite_store import FILE_NAME, SqliteHistoryStore
from sidecar.history.writer import DEFAULT_LINGER_SECONDS, DEFAULT_SUMMARY_ABOVE, HistoryWriter

if TYPE_CHECKING:
    from sidecar.history.pg_events import EventRelay

CLEAR_BATCH = 500
DISABLED = "disabled"

log = structlog.get_logger()
T = TypeVar("T")


@dataclass(frozen=True)
class HistoryConfig:
    enabled: bool = True
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    write_linger_seconds: float = DEFAULT_LINGER_SECONDS
    """How long queued rows gather before the writer commits them (readers never wait for it)."""
    summary_above: int = DEFAULT_SUMMARY_ABOVE
    """Answered runs waiting for the writer at which new runs are recorded summary-only (``writer``)."""
    journal: bool = True
    """Journal execution rows so a kill of the process cannot lose runs (``journal``)."""


class ExecutionHistory:
    def __init__(
        self,
        backend_id: str,
        db_path: Path,
        store: RetainedHistoryStore | None,
        bus: EventBus | None,
        *,
        backend_name: str,
        config: HistoryConfig,
        error: str | None = None,
        journal: RunJournal | None = None,
        relay: EventRelay | None = None,
    ) -> None:
        self.backend_id = backend_id
        self.db_path = db_path
        self._store = store
        self._relay = relay
        self.database: str | None = None
        """The PostgreSQL database the history is kept in (password hidden); None: ``db_path``."""
        # What queries read: the file, or (history turned off on purpose) an always-empty store.
        self._queries: HistoryStore | None = (
            store if store is not None or error != DISABLED else EmptyHistoryStore()
        )
        self._error = error
        self._closed = False
        self.writer = (
            HistoryWriter(
                store,
                linger_seconds=config.write_linger_seconds,
                summary_above=config.summary_above,
                journal=journal,
            )
            if store is not None
            else None
        )
        self.recovered_runs = 0
        """Runs restored from the journal when this history opened (answered ones and started ones)."""
        self.interrupted_runs = 0
        """Runs marked interrupted when this history opened."""
        self.recorder = (
            HistoryRecorder(self.writer, bus, backend_id=backend_id, backend_name=backend_name)
            if self.writer is not None
            else None
        )
        self._retention = RetentionTask(store, config.retention) if store is not None else None

    @classmethod
    async def open(
        cls,
        data_dir: Path,
        *,
        backend_id: str,
        backend_name: str,
        bus: EventBus | None,
        config: HistoryConfig | None = None,
        database_url: str | None = None,
    ) -> ExecutionHistory:
        """Open ``<data_dir>/executions.sqlite`` (or, given ``database_url``, the history tables of that
        PostgreSQL database), mark interrupted runs, start writer and retention. On PostgreSQL the bus
        also carries the events of runs on other replicas (``pg_events``)."""
        config = config or HistoryConfig()
        path = data_dir / FILE_NAME
        if not config.enabled:
            return cls(backend_id, path, None, bus, backend_name=backend_name, config=config, error=DISABLED)
        relay: EventRelay | None = None
        store: RetainedHistoryStore | None = None
        try:
            if database_url:
                from sidecar.history.postgres_store import PostgresHistoryStore

                store = await PostgresHistoryStore.open(database_url)
            else:
                store = await SqliteHistoryStore.open(path)
            # Journal files are left as they are until their rows are in the file: a failure here keeps
            # them for the next start.
            recovered = await store.recover_journaled(await asyncio.to_thread(read_journal, data_dir))
            interrupted = await store.mark_interrupted()
            if database_url and bus is not None:
                from sidecar.history.pg_events import EventRelay
                from sidecar.history.postgres_store import PostgresHistoryStore

                assert isinstance(store, PostgresHistoryStore)
                relay = await EventRelay.start(store, bus, backend_id)
        except HistoryStorageError as error:
            log.error("execution history disabled", db_path=str(path), error=error.message)
            if store is not None:
                await store.close()
            failed = error.message
            return cls(backend_id, path, None, bus, backend_name=backend_name, config=config, error=failed)
        if recovered:
            log.warning("runs restored from the journal after an unclean stop", count=recovered)
        if interrupted:
            log.warning("executions interrupted by the last stop", count=interrupted)
        journal = await _open_journal(data_dir) if config.journal else None
        history = cls(
            backend_id,
            path,
            store,
            bus,
            backend_name=backend_name,
            config=config,
            journal=journal,
            relay=relay,
        )
        history.recovered_runs, history.interrupted_runs = recovered, interrupted
        if database_url:
            from sidecar.history.postgres_store import redacted_url

            history.database = redacted_url(database_url)
        history._start()
        return history

    def _start(self) -> None:
        assert self.writer is not None
        assert self._retention is not None
        self.writer.start()
        self._retention.start()

    @property
    def status(self) -> dict[str, Any]:
        """``{enabled, dbPath, database?, error?, dropped?}`` — the contract's loud status when history is
        off; ``database`` names the PostgreSQL database when the history is kept there."""
        status: dict[str, Any] = {"enabled": self._store is not None, "dbPath": str(self.db_path)}
        if self.database is not None:
            status["database"] = self.database
        if self._error is not None:
            status["error"] = self._error
        if self.writer is not None and self.writer.dropped:
            status["dropped"] = self.writer.dropped
        return status

    @property
    def recording(self) -> dict[str, Any]:
        """Figures about recording itself: ``{enabled}`` plus, when enabled, the writer's backlog and
        degradation counts (``HistoryWriter.figures``) and what the last open recovered."""
        if self.writer is None:
            return {"enabled": False}
        return {
            "enabled": True,
            **self.writer.figures(),
            "recoveredAtStart": self.recovered_runs,
            "interruptedAtStart": self.interrupted_runs,
        }

    def recorder_for(
        self,
        trigger: RunTrigger | None = None,
        node_names: Mapping[str, str] | None = None,
        language: str | None = None,
    ) -> RunRecorder | None:
        """The ``recorder=`` to pass to ``Runtime.run``; None when history is disabled. ``language``
        is the workflow's, recorded as the run's ``metadata.language``."""
        if self.recorder is None:
            return None
        return self.recorder.for_run(trigger, node_names, language)

    async def record_rejection(self, rejection: RejectedFire) -> None:
        """``sidecar.triggers``' RejectionRecorder: a rejected fire becomes a failed execution row."""
        if self.recorder is not None:
            self.recorder.record_rejection(rejection)

    def _require_store(self) -> HistoryStore:
        if self._queries is None:
            raise HistoryStorageError("execution history is unavailable", data=self.status)
        return self._queries

    async def _current_store(self) -> HistoryStore:
        """The store once every row queued so far is written: a reader sees the runs whose events it got."""
        store = self._require_store()
        if self.writer is not None:
            await self.writer.flush()
        return store

    # ---- queries ----------------------------------------------------------------------------------------
    async def list_executions(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``{executions: WorkflowExecution[], nextCursor?}``; raises ``InvalidHistoryQueryError``."""
        query = ExecutionQuery.from_wire(params)
        page = await (await self._current_store()).list_executions(query)
        result: dict[str, Any] = {"executions": [execution_json(row) for row in page.rows]}
        if page.next_cursor is not None:
            result["nextCursor"] = page.next_cursor
        return result

    async def get_execution(self, execution_id: str) -> dict[str, Any] | None:
        """ExecutionWithSteps (steps by ``stepIndex``), or None."""
        store = await self._current_store()
        row = await store.get_execution(execution_id)
        if row is None:
            return None
        return execution_with_steps_json(row, await store.get_steps(execution_id))

    async def execution_rows(self, execution_id: str) -> tuple[ExecutionRow, list[StepRow]] | None:
        """The stored rows of one execution (steps by ``step_index``), for readers that shape their
        own view (``sidecar.debugging.pin``); None when there is no such execution."""
        store = await self._current_store()
        row = await store.get_execution(execution_id)
        if row is None:
            return None
        return row, await store.get_steps(execution_id)

    async def light_view(self, execution_id: str, view: LightView[T]) -> T | None:
        """``view(execution, steps, payloads)`` over one execution, run on the history's read thread in
        one read (``HistoryStore.light_view``): the canvas overlay folds a long execution there without
        holding the event loop, and reads only the payloads it shows. None when there is no such
        execution."""
        return await (await self._current_store()).light_view(execution_id, view)

    async def get_step(self, step_id: str) -> StepRow | None:
        return await (await self._current_store()).get_step(step_id)

    async def stats(self, workflow_id: str | None = None) -> dict[str, object]:
        """The store's figures; for the whole backend also ``recording`` (see :attr:`recording`), taken
        before waiting for the writer, so it shows the backlog the call found."""
        recording = self.recording if workflow_id is None and self.writer is not None else None
        figures = await (await self._current_store()).stats(workflow_id)
        if recording is not None:
            figures["recording"] = recording
        return figures

    async def delete(self, execution_id: str) -> dict[str, Any]:
        """``{deleted: true, id}``; raises ``ExecutionNotFoundError``."""
        store = await self._current_store()  # a run's queued rows must not re-create what we delete
        if not await store.delete_executions([execution_id]):
            raise ExecutionNotFoundError(execution_id)
        return {"deleted": True, "id": execution_id}

    async def clear(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Delete every finished execution matching the filters, in small batches → ``{deleted: n}``."""
        query = ExecutionQuery.from_wire(params)
        store = await self._current_store()
        deleted = 0
        while ids := await store.matching_ids(query, CLEAR_BATCH):
            deleted += await store.delete_executions(ids)
        return {"deleted": deleted}

    async def rerun_request(self, execution_id: str) -> RerunRequest:
        """The request to run again (redacted parts left out), linked by ``metadata.retryOf``."""
        execution = await self.get_execution(execution_id)
        if execution is None:
            raise ExecutionNotFoundError(execution_id)
        return rerun_request(execution)

    # ---- replay (sidecar.events.ReplaySource) -------------------------------------------------------------
    async def events_after(self, position: EventPosition, workflow_id: str | None) -> list[ExecutionEvent]:
        store = await self._current_store()  # events already published must be readable before we read
        events: list[ExecutionEvent] = []
        for execution, steps in await store.replay_rows(position.execution_id, workflow_id):
            after = position.seq if execution.id == position.execution_id else 0
            events.extend(replay_execution(self.backend_id, execution, steps, after))
        return events

    async def close(self) -> None:
        """Stop retention, flush the writer, close the file; a second call does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._retention is not None:
            await self._retention.stop()
        if self.writer is not None:
            await self.writer.stop()
        if self._relay is not None:
            await self._relay.close()
        if self._store is not None:
            await self._store.close()


async def _open_journal(data_dir: Path) -> RunJournal | None:
    """The runs journal, or None (logged) when its files cannot be created: runs are then
    recorded as before, only without crash protection for the last few milliseconds."""
    try:
        return await asyncio.to_thread(RunJournal.open, data_dir)
    except OSError as error:
        log.error("runs journal unavailable", data_dir=str(data_dir), error=str(error))
        return None
