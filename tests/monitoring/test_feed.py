"""The per-second feed: frames count what was accepted in that second (runs/s, errors, p95, in flight,
latest failures); ``monitoring:subscribe`` pushes ``monitoring:tick`` and ``GET /admin/monitoring/stream``
sends them as server-sent events, while function calls run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sidecar.backends.backend import Backend, BackendSpec
from sidecar.backends.manager import BackendManager
from sidecar.history.rows import ExecutionRow
from sidecar.ipc.handlers import register_monitoring_methods
from sidecar.monitoring.live import LiveFeed
from tests.channels import Channels, backend_manager
from tests.conftest import PROJECT_ROOT

HELLO = json.loads((PROJECT_ROOT / "examples" / "hello.workflow.json").read_text())
TOKEN = "admin-token-for-feed-tests-0123456789"


def row(
    execution: str, status: str, ms: int = 0, workflow: str = "wf", error: str | None = None
) -> ExecutionRow:
    return ExecutionRow(execution, workflow, workflow, "webhook", status, 1000, None, 2000, ms, error)


def test_a_frame_counts_its_second_and_starts_afresh() -> None:
    feed = LiveFeed("backend_feed", clock=lambda: 42.0)
    for index in range(20):
        feed.row(row(f"e{index}", "running"))
    for index in range(18):
        failed = index % 6 == 0
        feed.row(
            row(f"e{index}", "error" if failed else "success", 10 * index, error="boom" if failed else None)
        )
    frame = feed.frame()
    assert frame["at"] == 42_000
    assert frame["runsPerSecond"] == 18
    assert frame["errors"] == 3
    assert frame["inFlight"] == 2
    assert frame["byWorkflow"] == {"wf": {"runs": 18, "errors": 3}}
    assert frame["p95Ms"] == pytest.approx(170, rel=0.05)  # 18 runs of 0 … 170 ms
    assert [f["executionId"] for f in frame["latestFailures"]] == ["e12", "e6", "e0"]  # newest first
    again = feed.frame()
    assert (again["runsPerSecond"], again["errors"], again["p95Ms"], again["inFlight"]) == (0, 0, None, 2)
    assert len(again["latestFailures"]) == 3  # the latest failures stay until newer ones push them out


async def test_a_failing_subscriber_is_dropped_and_the_others_keep_their_frames() -> None:
    feed = LiveFeed("backend_feed")
    got: list[dict[str, Any]] = []

    def broken(_frame: dict[str, Any]) -> None:
        raise RuntimeError("gone")

    feed.subscribe(broken)
    feed.subscribe(got.append)
    feed.publish()
    feed.publish()
    assert len(got) == 2
    assert feed.subscriber_count == 1
    await feed.close()


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[BackendManager]:
    async with backend_manager(tmp_path) as managed:
        yield managed


async def call_hello(backend: Backend, times: int) -> None:
    admin = {"Authorization": f"Bearer {backend.spec.admin_token}"}
    app = {"X-Parse-Application-Id": backend.spec.backend_id}
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as http:
        assert (await http.put("/admin/workflows/hello", json=HELLO, headers=admin)).status == 200
        for _ in range(times):
            async with http.post("/functions/hello", json={"name": "F"}, headers=app) as reply:
                assert reply.status == 200


async def test_monitoring_subscribe_pushes_a_tick_each_second(manager: BackendManager) -> None:
    channels = Channels(register_monitoring_methods, manager)
    backend_id = str(manager.create("Feed")["id"])
    await manager.start(backend_id)
    subscription = await channels("monitoring:subscribe", backend_id)
    await call_hello(manager.running(backend_id, "test"), 5)
    for _ in range(40):
        ticks = [params[0] for method, params in channels.sent if method == "monitoring:tick"]
        if sum(t["runsPerSecond"] for t in ticks) >= 5 and len(ticks) >= 2:
            break
        await asyncio.sleep(0.1)
    assert sum(t["runsPerSecond"] for t in ticks) == 5
    assert {t["backendId"] for t in ticks} == {backend_id}
    assert await channels("monitoring:unsubscribe", subscription) is True
    assert await channels("monitoring:unsubscribe", subscription) is False


async def test_the_feed_over_sse_carries_runs_and_failures(tmp_path: Path) -> None:
    backend = Backend(
        BackendSpec(data_dir=tmp_path, backend_id="backend_feed", name="Feed", admin_token=TOKEN)
    )
    await backend.start()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as http:
            async with http.get("/admin/monitoring/stream") as refused:
                assert refused.status == 401
            async with http.get("/admin/monitoring/stream", params={"authToken": TOKEN}) as stream:
                assert stream.status == 200
                assert stream.headers["Content-Type"] == "text/event-stream"
                await call_hello(backend, 3)
                app = {"X-Parse-Application-Id": "backend_feed"}
                async with http.post("/functions/missing", json={}, headers=app) as reply:
                    assert reply.status >= 400
                frames: list[dict[str, Any]] = []
                async with asyncio.timeout(10):
                    async for line in stream.content:
                        if line.startswith(b"data: "):
                            frames.append(json.loads(line[6:]))
                            if sum(f["runsPerSecond"] for f in frames) >= 3 and len(frames) >= 2:
                                break
        assert sum(f["byWorkflow"].get("hello", {"runs": 0})["runs"] for f in frames) == 3
        assert all(f["inFlight"] >= 0 for f in frames)
    finally:
        await backend.stop()
