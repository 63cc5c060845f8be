"""``executions.sqlite``: the contract's tables, columns and indexes, our additions, migrations, recovery."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from sidecar.history import ExecutionQuery, HistoryStore, SqliteHistoryStore
from sidecar.history.rows import WriteBatch
from sidecar.history.schema import MIGRATIONS
from tests.history.conftest import execution, seed, step, table_count

CONTRACT_EXECUTION_COLUMNS = [
    "id",
    "workflow_id",
    "workflow_name",
    "trigger_type",
    "trigger_data",
    "status",
    "started_at",
    "completed_at",
    "duration_ms",
    "error_message",
    "error_stack",
    "metadata",
]
CONTRACT_STEP_COLUMNS = [
    "id",
    "execution_id",
    "node_id",
    "node_type",
    "node_name",
    "step_index",
    "started_at",
    "completed_at",
    "duration_ms",
    "status",
    "input_data",
    "output_data",
    "error_message",
]
CONTRACT_INDEXES = {
    "idx_executions_status",
    "idx_executions_started",
    "idx_executions_workflow_started",
    "idx_steps_node",
    "idx_steps_execution_order",
}
# Contract indexes left out because a kept index starts with the same columns: (left out, covered by).
PREFIX_INDEXES = {
    ("idx_executions_workflow", ("workflow_id",)): "idx_executions_workflow_started",
    ("idx_steps_execution", ("execution_id",)): "idx_steps_execution_order",
}


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


@pytest.mark.sqlite_only("reads the SQLite file's own catalogue")
async def test_the_contract_tables_columns_indexes_and_view_exist(store: SqliteHistoryStore) -> None:
    with closing(sqlite3.connect(store.path)) as db:
        assert _columns(db, "workflow_executions")[:12] == CONTRACT_EXECUTION_COLUMNS
        assert _columns(db, "execution_steps")[:13] == CONTRACT_STEP_COLUMNS
        indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert indexes >= CONTRACT_INDEXES
        assert _columns(db, "old_executions") == ["id", "workflow_id", "started_at", "status", "age_ms"]


@pytest.mark.sqlite_only("reads the SQLite file's own catalogue")
async def test_left_out_contract_indexes_are_prefixes_of_kept_ones(store: SqliteHistoryStore) -> None:
    with closing(sqlite3.connect(store.path)) as db:
        for (_, columns), covering in PREFIX_INDEXES.items():
            covered = tuple(row[2] for row in db.execute(f"PRAGMA index_info({covering})"))
            assert covered[: len(columns)] == columns


@pytest.mark.sqlite_only("reads the SQLite file's own catalogue")
async def test_our_additions_are_present(store: SqliteHistoryStore) -> None:
    with closing(sqlite3.connect(store.path)) as db:
        assert {"last_seq"} <= set(_columns(db, "workflow_executions"))
        assert {"run_index", "start_seq", "seq", "input_size", "output_size"} <= set(
            _columns(db, "execution_steps")
        )
        sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'execution_search'").fetchone()[0]
        assert "fts5" in sql.lower()


@pytest.mark.sqlite_only("reads the SQLite file's own catalogue")
async def test_wal_incremental_vacuum_and_recorded_migrations(store: SqliteHistoryStore) -> None:
    with closing(sqlite3.connect(store.path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
        names = [row[0] for row in db.execute("SELECT name FROM history_migrations ORDER BY name")]
    assert names == [m.name for m in MIGRATIONS]


async def test_reopening_applies_no_migration_twice(tmp_path: Path) -> None:
    path = tmp_path / "executions.sqlite"
    await (await SqliteHistoryStore.open(path)).close()
    reopened = await SqliteHistoryStore.open(path)
    await reopened.close()
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT count(*) FROM history_migrations").fetchone()[0] == len(MIGRATIONS)


async def test_deleting_an_execution_cascades_to_its_steps(store: SqliteHistoryStore) -> None:
    await seed(
        store,
        execution("exec_a"),
        execution("exec_b"),
        steps=(step("exec_a", 0, "n1"), step("exec_b", 0, "n1")),
    )
    assert await store.delete_executions(["exec_a"]) == 1
    assert await store.get_steps("exec_a") == []
    assert [s.execution_id for s in await store.get_steps("exec_b")] == ["exec_b"]


async def test_the_latest_row_per_id_wins_within_and_across_batches(store: SqliteHistoryStore) -> None:
    running = execution("exec_a", status="running")
    done = execution("exec_a", status="error", error_message="HTTP 500")
    await store.write(WriteBatch(executions=[running, done]))
    await store.write(WriteBatch(steps=[step("exec_a", 0, "n1", status="running")]))
    await store.write(WriteBatch(steps=[step("exec_a", 0, "n1", status="error")]))

    row = await store.get_execution("exec_a")
    assert row is not None
    assert (row.status, row.error_message) == ("error", "HTTP 500")
    assert [s.status for s in await store.get_steps("exec_a")] == ["error"]


async def test_a_large_batch_stores_every_row_exactly_once(store: SqliteHistoryStore) -> None:
    # 300 executions and 901 steps: more rows than one statement takes, in uneven chunks.
    executions = [execution(f"exec_{n:03d}") for n in range(300)]
    steps = [step(f"exec_{n % 300:03d}", n // 300, f"node{n}") for n in range(901)]
    await store.write(WriteBatch(executions=executions, steps=steps))

    assert len((await store.list_executions(ExecutionQuery(limit=300))).rows) == 300
    stored = await store.get_steps("exec_000")
    assert [(s.step_index, s.node_id) for s in stored] == [
        (0, "node0"),
        (1, "node300"),
        (2, "node600"),
        (3, "node900"),
    ]
    assert [s.node_id for s in await store.get_steps("exec_299")] == ["node299", "node599", "node899"]


async def test_a_step_of_a_deleted_execution_is_dropped_not_a_failed_batch(store: SqliteHistoryStore) -> None:
    await seed(store, execution("exec_kept"))
    await store.write(WriteBatch(executions=[execution("exec_new")], steps=[step("exec_gone", 0, "n1")]))
    assert await store.get_execution("exec_new") is not None
    assert await store.get_steps("exec_gone") == []


async def test_runs_left_running_are_marked_interrupted(store: SqliteHistoryStore) -> None:
    await seed(
        store,
        execution("exec_run", status="running", started_at=5_000),
        execution("exec_ok"),
        steps=(step("exec_run", 0, "n1", status="running"),),
    )
    assert await store.mark_interrupted() == 1

    row = await store.get_execution("exec_run")
    assert row is not None
    assert row.status == "error"
    assert row.completed_at is not None
    assert row.completed_at >= 5_000
    assert json.loads(row.metadata or "{}") == {"backendId": "backend_test", "interrupted": True}
    assert [s.status for s in await store.get_steps("exec_run")] == ["error"]
    untouched = await store.get_execution("exec_ok")
    assert untouched is not None
    assert untouched.status == "success"


async def test_foreign_keys_are_enforced_on_the_store_connections(store: SqliteHistoryStore) -> None:
    await seed(store, execution("exec_a"), steps=(step("exec_a", 0, "n1"),))
    await store.delete_executions(["exec_a"])
    assert await table_count(store, "execution_steps") == 0


async def test_the_sqlite_store_fits_the_history_store_protocol(store: SqliteHistoryStore) -> None:
    checked: HistoryStore = store  # mypy checks the structural fit here
    assert await checked.list_executions(ExecutionQuery()) is not None
