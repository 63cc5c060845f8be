"""List, get, stats, delete and clear in the contract's shapes (§8.2 to §8.4), plus our filters and cursor."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.errors import ExecutionNotFoundError, InvalidHistoryQueryError
from sidecar.history import ExecutionHistory
from sidecar.history.rows import SearchText
from tests.history.conftest import execution, seed_history, step


def ids(result: dict[str, Any]) -> list[str]:
    return [row["id"] for row in result["executions"]]


@pytest.fixture
async def seeded(history: ExecutionHistory) -> ExecutionHistory:
    await seed_history(
        history,
        execution("exec_1", workflow="hello", started_at=1_000, duration_ms=5),
        execution(
            "exec_2",
            workflow="hello",
            status="error",
            started_at=2_000,
            duration_ms=50,
            error_message="HTTP 500: Division by zero",
        ),
        execution("exec_3", workflow="orders", started_at=3_000, duration_ms=20, trigger_type="schedule"),
        execution("exec_4", workflow="orders", status="running", started_at=4_000),
        steps=(step("exec_1", 0, "cond-1"), step("exec_3", 0, "fn-9")),
    )
    return history


async def test_list_is_newest_first_in_the_contract_shape(seeded: ExecutionHistory) -> None:
    result = await seeded.list_executions({})
    assert ids(result) == ["exec_4", "exec_3", "exec_2", "exec_1"]
    assert result["executions"][1] == {
        "id": "exec_3",
        "workflowId": "orders",
        "workflowName": "orders",
        "triggerType": "schedule",
        "triggerData": {"headers": {}, "bodySize": 2, "body": {}},
        "status": "success",
        "startedAt": 3_000,
        "completedAt": 3_020,
        "durationMs": 20,
        "metadata": {"backendId": "backend_test"},
    }
    assert "completedAt" not in result["executions"][0]  # running: empty columns are absent


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"workflowId": "hello"}, ["exec_2", "exec_1"]),
        ({"status": "error"}, ["exec_2"]),
        ({"triggerType": "schedule"}, ["exec_3"]),
        ({"startedAfter": 2_000}, ["exec_4", "exec_3", "exec_2"]),
        ({"startedBefore": 2_000}, ["exec_2", "exec_1"]),
        ({"startedAfter": "1500", "startedBefore": "3500"}, ["exec_3", "exec_2"]),  # HTTP query strings
        ({"minDurationMs": 20}, ["exec_3", "exec_2"]),
        ({"maxDurationMs": 20}, ["exec_3", "exec_1"]),
        ({"errorText": "division"}, ["exec_2"]),
        ({"errorText": "%"}, []),  # LIKE wildcards are literal
        ({"nodeId": "cond-1"}, ["exec_1"]),
        ({"workflowId": "orders", "status": "running"}, ["exec_4"]),
    ],
)
async def test_every_filter(seeded: ExecutionHistory, params: dict[str, Any], expected: list[str]) -> None:
    assert ids(await seeded.list_executions(params)) == expected


async def test_ordering_by_duration_and_status(seeded: ExecutionHistory) -> None:
    by_duration = await seeded.list_executions({"orderBy": "duration_ms", "orderDir": "asc"})
    assert ids(by_duration) == ["exec_4", "exec_1", "exec_3", "exec_2"]  # running (no duration) first
    by_status = await seeded.list_executions({"orderBy": "status", "orderDir": "asc", "limit": 2})
    assert [row["status"] for row in by_status["executions"]] == ["error", "running"]


async def test_limit_and_offset(seeded: ExecutionHistory) -> None:
    assert ids(await seeded.list_executions({"limit": 2, "offset": 1})) == ["exec_3", "exec_2"]


async def test_cursor_pages_cover_every_row_once_even_with_equal_start_times(
    history: ExecutionHistory,
) -> None:
    rows = [execution(f"exec_{i:02d}", started_at=1_000 + i // 3) for i in range(10)]
    await seed_history(history, *rows)

    seen: list[str] = []
    params: dict[str, Any] = {"limit": 4}
    while True:
        page = await history.list_executions(params)
        seen.extend(ids(page))
        if "nextCursor" not in page:
            break
        params = {"limit": 4, "cursor": page["nextCursor"]}
    assert sorted(seen) == sorted(r.id for r in rows)
    assert len(seen) == len(set(seen))
    started = [next(r.started_at for r in rows if r.id == i) for i in seen]
    assert started == sorted(started, reverse=True)


async def test_full_text_search_over_previews_and_error_text(history: ExecutionHistory) -> None:
    await seed_history(history, execution("exec_a"), execution("exec_b"))
    assert history.writer is not None
    history.writer.submit_search(SearchText("exec_a", '{"customer":"Ada Lovelace"}\nHTTP 500: timeout'))
    history.writer.submit_search(SearchText("exec_b", '{"customer":"Grace Hopper"}'))
    await history.writer.flush()

    assert ids(await history.list_executions({"search": "lovelace"})) == ["exec_a"]
    assert ids(await history.list_executions({"search": "customer"})) == ["exec_b", "exec_a"]
    assert ids(await history.list_executions({"search": 'grace "OR ada'})) == []  # words, never syntax


@pytest.mark.parametrize(
    "params",
    [
        {"status": "done"},
        {"triggerType": "carrier-pigeon"},
        {"orderBy": "workflow_name"},
        {"orderDir": "sideways"},
        {"limit": -1},
        {"limit": 5000},
        {"offset": -3},
        {"limit": "ten"},
        {"cursor": "not-a-cursor"},
        {"cursor": "WzEsMl0", "offset": 5},
        {"search": "   "},
        {"workflow": "hello"},
    ],
)
async def test_bad_queries_are_errors_never_all_rows(
    seeded: ExecutionHistory, params: dict[str, Any]
) -> None:
    with pytest.raises(InvalidHistoryQueryError):
        await seeded.list_executions(params)


async def test_get_returns_the_execution_with_its_steps_by_step_index(history: ExecutionHistory) -> None:
    await seed_history(
        history, execution("exec_a"), steps=(step("exec_a", 1, "fn"), step("exec_a", 0, "cond"))
    )
    found = await history.get_execution("exec_a")
    assert found is not None
    assert [(s["stepIndex"], s["nodeId"]) for s in found["steps"]] == [(0, "cond"), (1, "fn")]
    assert found["steps"][0] == {
        "id": "step_a_0",
        "executionId": "exec_a",
        "nodeId": "cond",
        "nodeType": "Condition",
        "stepIndex": 0,
        "startedAt": 1_000,
        "completedAt": 1_001,
        "durationMs": 1,
        "status": "success",
        "inputData": {"condition": True},
        "outputData": {"ontrue": True},
        "runIndex": 0,
        "inputSize": 18,
        "outputSize": 15,
    }
    assert await history.get_execution("exec_missing") is None


async def test_stats_per_workflow_with_percentiles(history: ExecutionHistory) -> None:
    durations = list(range(1, 101))  # 1..100 ms
    rows = [
        execution(f"exec_{d}", workflow="w", duration_ms=d, status="error" if d % 10 == 0 else "success")
        for d in durations
    ]
    await seed_history(history, *rows, execution("exec_other", workflow="x", duration_ms=999))

    assert await history.stats("w") == {
        "workflowId": "w",
        "totalExecutions": 100,
        "successCount": 90,
        "errorCount": 10,
        "runningCount": 0,
        "avgDurationMs": 50.5,
        "minDurationMs": 1,
        "maxDurationMs": 100,
        "successRate": 90.0,
        "p50DurationMs": 50,
        "p95DurationMs": 95,
        "p99DurationMs": 99,
    }
    overall = await history.stats()
    assert overall["totalExecutions"] == 101
    assert overall["maxDurationMs"] == 999


async def test_delete_one(seeded: ExecutionHistory) -> None:
    assert await seeded.delete("exec_1") == {"deleted": True, "id": "exec_1"}
    assert await seeded.get_execution("exec_1") is None
    with pytest.raises(ExecutionNotFoundError):
        await seeded.delete("exec_1")


async def test_clear_by_filter_keeps_running_rows_and_other_workflows(seeded: ExecutionHistory) -> None:
    assert await seeded.clear({"workflowId": "orders"}) == {"deleted": 1}
    assert ids(await seeded.list_executions({})) == ["exec_4", "exec_2", "exec_1"]
    assert await seeded.clear({}) == {"deleted": 2}
    assert ids(await seeded.list_executions({})) == ["exec_4"]


async def test_search_combines_with_filters_and_pages_by_cursor(history: ExecutionHistory) -> None:
    rows = [
        execution(f"exec_{i}", started_at=1_000 + i, status="error" if i % 2 else "success") for i in range(7)
    ]
    await seed_history(history, *rows)
    assert history.writer is not None
    for row in rows:
        history.writer.submit_search(SearchText(row.id, f"order total {row.id}"))
    await history.writer.flush()

    failed = await history.list_executions({"search": "order", "status": "error"})
    assert ids(failed) == ["exec_5", "exec_3", "exec_1"]
    first = await history.list_executions({"search": "total", "limit": 4})
    rest = await history.list_executions({"search": "total", "limit": 4, "cursor": first["nextCursor"]})
    assert ids(first) + ids(rest) == [f"exec_{i}" for i in reversed(range(7))]
    oldest_first = await history.list_executions({"search": "total", "orderDir": "asc", "limit": 2})
    assert ids(oldest_first) == ["exec_0", "exec_1"]
