"""Retention: age (failed runs may live longer), count per workflow, total count, bytes; never running."""

from __future__ import annotations

from pathlib import Path

from sidecar.history import RetentionConfig, SqliteHistoryStore, apply_retention
from sidecar.history.retention import DAY_MS, DEFAULT_MAX_AGE_MS
from sidecar.history.rows import ExecutionRow, SearchText, WriteBatch
from tests.history.conftest import execution, seed, step, table_count

NOW = 100 * DAY_MS
OFF = RetentionConfig(max_age_ms=None, pause_seconds=0)


async def remaining(store: SqliteHistoryStore) -> list[str]:
    ids = []
    for candidate in ("a", "b", "c", "d", "e", "f", "g", "h"):
        if await store.get_execution(f"exec_{candidate}") is not None:
            ids.append(f"exec_{candidate}")
    return ids


def aged(name: str, days_ago: float, status: str = "success", workflow: str = "w") -> ExecutionRow:
    return execution(
        f"exec_{name}", status=status, workflow=workflow, started_at=int(NOW - days_ago * DAY_MS)
    )


def test_the_default_keeps_thirty_days() -> None:
    assert RetentionConfig().max_age_ms == DEFAULT_MAX_AGE_MS == 30 * DAY_MS


async def test_age_prunes_old_finished_runs_but_never_running_ones(store: SqliteHistoryStore) -> None:
    await seed(store, aged("a", 40), aged("b", 31, "error"), aged("c", 45, "running"), aged("d", 10))
    deleted = await apply_retention(store, RetentionConfig(pause_seconds=0), now=NOW)
    assert deleted == 2
    assert await remaining(store) == ["exec_c", "exec_d"]


async def test_failed_runs_can_be_kept_longer(store: SqliteHistoryStore) -> None:
    await seed(store, aged("a", 40), aged("b", 40, "error"), aged("c", 100, "error"))
    config = RetentionConfig(max_age_ms=30 * DAY_MS, failed_max_age_ms=90 * DAY_MS, pause_seconds=0)
    await apply_retention(store, config, now=NOW)
    assert await remaining(store) == ["exec_b"]


async def test_keep_failed_executions_exempts_them_from_every_rule(store: SqliteHistoryStore) -> None:
    await seed(store, aged("a", 40), aged("b", 400, "error"), aged("c", 3), aged("d", 2))
    config = RetentionConfig(keep_failed_executions=True, max_total_count=1, pause_seconds=0)
    await apply_retention(store, config, now=NOW)
    assert await remaining(store) == ["exec_b", "exec_d"]


async def test_count_per_workflow_keeps_the_newest(store: SqliteHistoryStore) -> None:
    await seed(
        store,
        aged("a", 5, workflow="x"),
        aged("b", 4, workflow="x"),
        aged("c", 3, workflow="x"),
        aged("d", 6, workflow="y"),
        aged("e", 9, "running", workflow="x"),
    )
    await apply_retention(
        store, RetentionConfig(max_age_ms=None, max_count_per_workflow=2, batch_size=1), now=NOW
    )
    assert await remaining(store) == ["exec_b", "exec_c", "exec_d", "exec_e"]


async def test_total_count_keeps_the_newest_overall(store: SqliteHistoryStore) -> None:
    await seed(store, aged("a", 5), aged("b", 4, workflow="z"), aged("c", 3))
    await apply_retention(
        store, RetentionConfig(max_age_ms=None, max_total_count=1, pause_seconds=0), now=NOW
    )
    assert await remaining(store) == ["exec_c"]


async def test_a_byte_budget_prunes_oldest_first_and_the_file_shrinks(tmp_path: Path) -> None:
    path = tmp_path / "executions.sqlite"
    store = await SqliteHistoryStore.open(path)
    rows = [execution(f"exec_{i:04d}", started_at=NOW - (2_000 - i) * 1000) for i in range(2_000)]
    await store.write(WriteBatch(executions=rows, steps=[step(r.id, 0, "n") for r in rows]))
    await store.write(WriteBatch(search=[SearchText(r.id, "payload " * 40) for r in rows]))
    budget = (await store.used_bytes()) // 4
    config = RetentionConfig(max_age_ms=None, max_total_bytes=budget, batch_size=100, pause_seconds=0)

    deleted = await apply_retention(store, config)

    assert 0 < deleted < 2_000
    assert await store.get_execution("exec_0000") is None  # the oldest went first
    assert await store.get_execution("exec_1999") is not None
    await store.close()
    assert path.stat().st_size <= budget  # incremental vacuum handed the freed pages back


async def test_pruned_executions_leave_no_search_rows(store: SqliteHistoryStore) -> None:
    await seed(store, aged("a", 40))
    await store.write(WriteBatch(search=[SearchText("exec_a", "findme")]))
    await apply_retention(store, RetentionConfig(pause_seconds=0), now=NOW)
    assert await table_count(store, "execution_search") == 0
