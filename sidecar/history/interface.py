"""``HistoryStore``: what the history services need from storage (SQLite embedded; Postgres later).

All methods are async and may raise ``HistoryStorageError``; rows cross as :mod:`sidecar.history.rows`
values, queries as :class:`ExecutionQuery`.
"""

from __future__ import annotations

from typing import Protocol

from sidecar.history.db_read import ExecutionPage
from sidecar.history.query import ExecutionQuery
from sidecar.history.rows import ExecutionRow, StepRow, WriteBatch


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

    async def stats(self, workflow_id: str | None) -> dict[str, object]: ...

    async def delete_executions(self, ids: list[str]) -> int: ...

    async def matching_ids(self, query: ExecutionQuery, limit: int) -> list[str]: ...

    async def replay_rows(
        self, execution_id: str, workflow_id: str | None
    ) -> list[tuple[ExecutionRow, list[StepRow]]]: ...

    async def close(self) -> None: ...
