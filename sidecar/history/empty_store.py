"""``EmptyHistoryStore``: the history of a backend that records nothing (ephemeral, or turned off).

Queries answer as for an empty file (no executions, zero stats) instead of failing, because nothing
was ever meant to be recorded; a history that *failed* to open answers with ``HistoryStorageError``.
"""

from __future__ import annotations

from typing import TypeVar

from sidecar.history.db_read import PERCENTILES, ExecutionPage
from sidecar.history.interface import LightView
from sidecar.history.query import ExecutionQuery
from sidecar.history.rows import ExecutionRow, StepRow, WriteBatch

T = TypeVar("T")


class EmptyHistoryStore:
    async def write(self, batch: WriteBatch) -> None:
        return None

    async def recover_journaled(self, rows: list[ExecutionRow]) -> int:
        return 0

    async def mark_interrupted(self) -> int:
        return 0

    async def list_executions(self, query: ExecutionQuery) -> ExecutionPage:
        return ExecutionPage([], None)

    async def get_execution(self, execution_id: str) -> ExecutionRow | None:
        return None

    async def get_steps(self, execution_id: str) -> list[StepRow]:
        return []

    async def light_view(self, execution_id: str, view: LightView[T]) -> T | None:
        return None

    async def get_step(self, step_id: str) -> StepRow | None:
        return None

    async def stats(self, workflow_id: str | None) -> dict[str, object]:
        counts = ("totalExecutions", "successCount", "errorCount", "runningCount", "successRate")
        durations = ("avgDurationMs", "minDurationMs", "maxDurationMs", *(name for name, _ in PERCENTILES))
        figures: dict[str, object] = dict.fromkeys((*counts, *durations), 0)
        if workflow_id is not None:
            figures["workflowId"] = workflow_id
        return figures

    async def delete_executions(self, ids: list[str]) -> int:
        return 0

    async def matching_ids(self, query: ExecutionQuery, limit: int) -> list[str]:
        return []

    async def replay_rows(
        self, execution_id: str, workflow_id: str | None
    ) -> list[tuple[ExecutionRow, list[StepRow]]]:
        return []

    async def close(self) -> None:
        return None
