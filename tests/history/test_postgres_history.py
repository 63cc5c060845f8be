"""What only the PostgreSQL history has: its catalogue, replicas recording into one database (interrupted
runs, live events whichever replica ran the function, shared answers)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from sidecar.backends.backend import Backend, BackendSpec
from sidecar.errors import HistoryStorageError
from sidecar.events import EventBus, EventKind, ExecutionEvent
from sidecar.history import ExecutionHistory, RetentionConfig, apply_retention
from sidecar.history.pg_events import MAX_PAYLOAD
from sidecar.history.postgres_store import PostgresHistoryStore, redacted_url
from sidecar.history.rows import SearchText, WriteBatch
from tests.history.conftest import BACKEND, NO_RETENTION, execution, seed, step
from tests.history.test_events import collect, run_greet
from tests.history.test_store import CONTRACT_EXECUTION_COLUMNS, CONTRACT_INDEXES, CONTRACT_STEP_COLUMNS
from tests.monitoring.test_direct_sse import HELLO, TOKEN, read_frames
from tests.postgres import new_schema_url

OpenReplica = Callable[[str], Awaitable[tuple[ExecutionHistory, EventBus]]]


@pytest.fixture
def url(pg_server: str) -> str:
    return new_schema_url(pg_server)


@pytest.fixture
async def replica(tmp_path: Path, url: str) -> AsyncIterator[OpenReplica]:
    """Opens histories on one database, each with its own data directory and bus, as replicas do."""
    opened: list[ExecutionHistory] = []

    async def open_replica(name: str) -> tuple[ExecutionHistory, EventBus]:
        bus = EventBus()
        (tmp_path / name).mkdir()
        history = await ExecutionHistory.open(
            tmp_path / name,
            backend_id=BACKEND,
            backend_name="Test backend",
            bus=bus,
            config=NO_RETENTION,
            database_url=url,
        )
        opened.append(history)
        return history, bus

    yield open_replica
    for history in opened:
        await history.close()


async def test_the_contract_tables_columns_and_indexes_exist(url: str) -> None:
    store = await PostgresHistoryStore.open(url)
    try:
        async with store.pool.acquire() as connection:

            async def columns(table: str) -> list[str]:
                rows = await connection.fetch(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                    table,
                )
                return [row[0] for row in rows]

            assert (await columns("workflow_executions"))[:12] == CONTRACT_EXECUTION_COLUMNS
            assert (await columns("execution_steps"))[:13] == CONTRACT_STEP_COLUMNS
            assert await columns("old_executions") == ["id", "workflow_id", "started_at", "status", "age_ms"]
            indexes = {
                row[0]
                for row in await connection.fetch(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                )
            }
            assert indexes >= CONTRACT_INDEXES
    finally:
        await store.close()


async def test_a_starting_replica_fails_only_the_runs_of_replicas_that_are_gone(url: str) -> None:
    alive = await PostgresHistoryStore.open(url)
    gone = await PostgresHistoryStore.open(url)
    await seed(alive, execution("exec_alive", status="running", started_at=5_000))
    await seed(
        gone,
        execution("exec_gone", status="running", started_at=5_000),
        steps=(step("exec_gone", 0, "n1", status="running"),),
    )
    await gone.close()  # killed: its connections are gone
    starting = await PostgresHistoryStore.open(url)
    try:
        assert await starting.mark_interrupted() == 1
        still = await starting.get_execution("exec_alive")
        failed = await starting.get_execution("exec_gone")
        assert still is not None
        assert still.status == "running"
        assert failed is not None
        assert failed.status == "error"
        assert [s.status for s in await starting.get_steps("exec_gone")] == ["error"]
        await alive.close()
        assert await starting.mark_interrupted() == 1  # now its replica is gone too
    finally:
        await starting.close()


async def test_a_run_on_one_replica_streams_to_subscribers_of_another(replica: OpenReplica) -> None:
    runner, _ = await replica("a")
    watcher, watcher_bus = await replica("b")
    live = watcher_bus.subscribe(BACKEND)

    execution_id = await run_greet(runner)

    events: list[ExecutionEvent] = []
    async with asyncio.timeout(5):
        while not events or events[-1].kind is not EventKind.FINISHED:
            event = await live.next()
            assert event is not None
            events.append(event)
    assert events[0].kind is EventKind.STARTED
    assert {e.kind for e in events[1:-1]} == {EventKind.STEP}
    assert len(events) > 3
    assert {e.execution_id for e in events} == {execution_id}
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].data["status"] == "success"
    # The other replica answers for the run from the shared tables once the runner's writer committed it.
    assert runner.writer is not None
    await runner.writer.flush()
    stored = await watcher.get_execution(execution_id)
    assert stored is not None
    assert stored["status"] == "success"
    assert [row["id"] for row in (await watcher.list_executions({}))["executions"]] == [execution_id]


async def test_an_event_over_the_notification_limit_arrives_whole_and_in_order(replica: OpenReplica) -> None:
    _, sender_bus = await replica("a")
    _, receiver_bus = await replica("b")
    live = receiver_bus.subscribe(BACKEND)
    big = {"outputPreview": "x" * (2 * MAX_PAYLOAD), "nodeId": "n1"}
    sent = [
        ExecutionEvent(EventKind.STARTED, BACKEND, "exec_big", "w", 1, {"status": "running"}),
        ExecutionEvent(EventKind.STEP, BACKEND, "exec_big", "w", 2, big),
        ExecutionEvent(EventKind.STEP, BACKEND, "exec_big", "w", 3, {"nodeId": "n2"}),
    ]
    for event in sent:
        sender_bus.publish(event)
    received = await collect(live, 3)
    assert received == sent
    # Nothing comes back to the sender's own subscribers twice.
    own = sender_bus.subscribe(BACKEND)
    await asyncio.sleep(0.2)
    assert own.take_nowait() is None


async def test_received_events_are_not_sent_back(replica: OpenReplica, url: str) -> None:
    _, sender_bus = await replica("a")
    await replica("b")
    connection = await asyncpg.connect(url)
    heard: list[str] = []
    await connection.add_listener("noodl_history_events", lambda *args: heard.append(args[3]))
    try:
        sender_bus.publish(ExecutionEvent(EventKind.STARTED, BACKEND, "exec_once", "w", 1, {}))
        await asyncio.sleep(0.5)
        assert len(heard) == 1  # replica b published it locally and did not announce it again
    finally:
        await connection.close()


async def test_the_status_names_the_database_without_its_password(replica: OpenReplica, url: str) -> None:
    history, _ = await replica("a")
    assert history.status["enabled"] is True
    assert history.status["database"] == redacted_url(url)
    assert redacted_url("postgres://noodl:s3cret@db:5432/app") == "postgres://noodl:***@db:5432/app"


async def test_a_database_that_cannot_be_reached_disables_history_loudly(tmp_path: Path) -> None:
    history = await ExecutionHistory.open(
        tmp_path,
        backend_id=BACKEND,
        backend_name="Test backend",
        bus=EventBus(),
        database_url="postgres://noodl:s3cret@127.0.0.1:1/nothing",
    )
    try:
        assert history.status["enabled"] is False
        assert "cannot open the execution history on PostgreSQL" in history.status["error"]
        assert "s3cret" not in history.status["error"]
        with pytest.raises(HistoryStorageError):
            await history.list_executions({})
        assert history.recorder_for() is None  # runs still work, unrecorded
    finally:
        await history.close()


async def test_an_sse_subscriber_on_one_replica_sees_a_function_run_on_another(
    tmp_path: Path, url: str
) -> None:
    """Two backends serving one database (replicas in one process, each with its own bus and port): a
    call answered by replica A streams to ``GET /executions/stream`` on replica B, and B lists it."""
    replicas = [
        Backend(
            BackendSpec(
                data_dir=tmp_path / name,
                backend_id="shared",
                name="Shared",
                admin_token=TOKEN,
                database_url=url,
            )
        )
        for name in ("a", "b")
    ]
    for served in replicas:
        await served.start()
    admin = {"Authorization": f"Bearer {TOKEN}"}
    try:
        a, b = (f"http://127.0.0.1:{served.port}" for served in replicas)
        async with aiohttp.ClientSession() as http:
            for base in (a, b):
                assert (
                    await http.put(f"{base}/admin/workflows/hello", json=HELLO, headers=admin)
                ).status == 200
            async with http.get(f"{b}/executions/stream", params={"authToken": TOKEN}) as stream:
                async with http.post(f"{a}/functions/hello", json={"name": "A"}, headers=admin) as reply:
                    assert reply.status == 200
                frames = await read_frames(stream, 1)
            await replicas[0].history.writer.flush()
            async with http.get(f"{b}/executions", headers=admin) as listed:
                runs = await listed.json()
    finally:
        for served in replicas:
            await served.stop()
    assert frames[0]["event"] == "execution:started"
    assert frames[-1]["event"] == "execution:finished"
    execution_id = json.loads(frames[0]["data"])["executionId"]
    assert {json.loads(frame["data"])["executionId"] for frame in frames} == {execution_id}
    assert json.loads(frames[-1]["data"])["status"] == "success"
    assert [run["id"] for run in runs] == [execution_id]


async def test_a_byte_budget_counts_live_rows_and_prunes_oldest_first(url: str) -> None:
    """PostgreSQL keeps a deleted row's space until vacuum: the budget is over live rows, so pruning stops
    once they fit (a budget over the relations' size would empty the history)."""
    store = await PostgresHistoryStore.open(url)
    try:
        now = 10**12
        rows = [execution(f"exec_{i:04d}", started_at=now - (2_000 - i) * 1000) for i in range(2_000)]
        await store.write(WriteBatch(executions=rows, steps=[step(r.id, 0, "n") for r in rows]))
        await store.write(WriteBatch(search=[SearchText(r.id, "payload " * 40) for r in rows]))
        budget = (await store.used_bytes()) // 4
        config = RetentionConfig(max_age_ms=None, max_total_bytes=budget, batch_size=100, pause_seconds=0)

        deleted = await apply_retention(store, config)

        assert 1_000 < deleted < 2_000
        assert await store.used_bytes() <= budget
        assert await store.get_execution("exec_0000") is None  # the oldest went first
        assert await store.get_execution("exec_1999") is not None
    finally:
        await store.close()
