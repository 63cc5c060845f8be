"""``HistoryStore``: what the history services need from storage (SQLite embedded, or PostgreSQL).

All methods are async and may raise ``HistoryStorageError``; rows cross as :mod:`sidecar.history.rows`
values, queries as :class:`ExecutionQuery`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sidecar.history.db_read import ExecutionPage
from sidecar.history.query import ExecutionQuery
from sidecar.history.rows import ExecutionRow, StepRow, WriteBatch

T = TypeVar("T")
StepPayloads = Callable[[list[str]], dict[str, tuple[Any, Any]]]
"""Step ids → ``{step id: (input_data, output_data)}`` as stored."""
LightView = Callable[[ExecutionRow, Callable[[], list[StepRow]], StepPayloads], T]
"""What a reader makes of one execution (``HistoryStore.light_view``), on the read thread: its row,
a reader of its light steps and a reader of some steps' payloads, each read only when called."""


class HistoryStore(Protocol):
    async def write(self, batch: WriteBatch) -> None:
        """Apply one batch in one transaction (latest row per id wins)."""
        ...

    async def recover_journaled(self, rows: list[ExecutionRow]) -> int:
        """At start-up: store the journal's runs the file lacks (``metadata.recovered``); returns how many."""
        ...

    async def mark_interrupted(self) -> int:
        """At start-up: rows left ``running`` become failed, ``metadata.interrupted``; returns the count."""
        ...

    async def list_executions(self, query: ExecutionQuery) -> ExecutionPage: ...

    async def get_execution(self, execution_id: str) -> ExecutionRow | None: ...

    async def get_steps(self, execution_id: str) -> list[StepRow]: ...

    async def light_view(self, execution_id: str, view: LightView[T]) -> T | None:
        """``view(execution, steps, payloads)`` on the read thread, in one hop: ``steps()`` reads the steps
        as ``db_read.light_steps`` gives them, ``payloads(step ids)`` their stored input and output."""

    async def get_step(self, step_id: str) -> StepRow | None: ...

    async def stats(self, workflow_id: str | None) -> dict[str, object]: ...

    async def delete_executions(self, ids: list[str]) -> int: ...

    async def matching_ids(self, query: ExecutionQuery, limit: int) -> list[str]: ...

    async def replay_rows(
        self, execution_id: str, workflow_id: str | None
    ) -> list[tuple[ExecutionRow, list[StepRow]]]: ...

    async def close(self) -> None: ...


class RetainedHistoryStore(HistoryStore, Protocol):
    """A store retention can prune: each selection returns at most ``limit`` ids of finished executions,
    oldest first (``sidecar.history.retention`` deletes them and asks again)."""

    async def older_than(self, cutoff_ms: int, *, failed: bool | None, limit: int) -> list[str]:
        """Started before ``cutoff_ms``: all (None), only failed (True), or all but failed (False)."""
        ...

    async def over_count_per_workflow(self, keep: int, *, keep_failed: bool, limit: int) -> list[str]: ...

    async def over_total_count(self, keep: int, *, keep_failed: bool, limit: int) -> list[str]: ...

    async def oldest(self, count: int, *, keep_failed: bool) -> list[str]: ...

    async def used_bytes(self) -> int:
        """Bytes the history occupies, free space not counted."""
        ...

    async def reclaim(self, pages: int) -> int:
        """Hand some free space back; returns how much is left to hand back (0: done)."""
        ...
