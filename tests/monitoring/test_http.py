"""A real backend on a loopback port: ``GET /admin/metrics`` and ``GET /metrics`` after real function runs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from sidecar.backends.backend import Backend, BackendSpec
from tests.conftest import PROJECT_ROOT

TOKEN = "admin-token-for-tests-0123456789"
SCRAPE = "scrape-token-for-tests-0123456789"
HELLO = json.loads((PROJECT_ROOT / "examples" / "hello.workflow.json").read_text())
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
APP = {"X-Parse-Application-Id": "backend_mon1"}


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[Backend]:
    (tmp_path / "monitoring.json").write_text(json.dumps({"scrapeToken": SCRAPE}))
    served = Backend(BackendSpec(data_dir=tmp_path, backend_id="backend_mon1", name="Mon", admin_token=TOKEN))
    await served.start()
    yield served
    await served.stop()


@pytest.fixture
async def http(backend: Backend) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as session:
        yield session


async def run_hello(http: aiohttp.ClientSession, times: int) -> None:
    assert (await http.put("/admin/workflows/hello", json=HELLO, headers=ADMIN)).status == 200
    for index in range(times):
        async with http.post("/functions/hello", json={"name": f"N{index}"}, headers=APP) as reply:
            assert reply.status == 200


def samples(text: str) -> list[Sample]:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


async def test_admin_metrics_count_the_runs_just_answered(http: aiohttp.ClientSession) -> None:
    await run_hello(http, 5)
    async with http.get("/admin/metrics", params={"bucket": "all"}, headers=ADMIN) as reply:
        assert reply.status == 200
        body: dict[str, Any] = await reply.json()
    assert [(s["workflowId"], s["triggerType"], s["runs"], s["errors"]) for s in body["series"]] == [
        ("hello", "webhook", 5, 0)
    ]
    assert body["totals"]["p95Ms"] is not None
    assert body["nodes"]
    assert all(node["workflowId"] == "hello" and node["errors"] == 0 for node in body["nodes"])


async def test_a_bad_metrics_query_is_a_400_naming_the_problem(http: aiohttp.ClientSession) -> None:
    for query in ({"bucket": "week"}, {"from": "soon"}, {"workflowID": "x"}, {"nodes": "maybe"}):
        async with http.get("/admin/metrics", params=query, headers=ADMIN) as reply:
            assert reply.status == 400
            assert "error" in await reply.json()


@pytest.mark.parametrize("path", ["/admin/metrics", "/metrics"])
async def test_metrics_need_a_credential(http: aiohttp.ClientSession, path: str) -> None:
    assert (await http.get(path)).status == 401
    assert (await http.get(path, headers={"Authorization": "Bearer wrong-token-0123456789"})).status == 401


async def test_the_scrape_token_opens_metrics_only(http: aiohttp.ClientSession) -> None:
    scrape = {"Authorization": f"Bearer {SCRAPE}"}
    assert (await http.get("/metrics", headers=scrape)).status == 200
    assert (await http.get("/admin/metrics", headers=scrape)).status == 401


async def test_prometheus_exposition_parses_and_counts_runs_and_requests(http: aiohttp.ClientSession) -> None:
    await run_hello(http, 3)
    for object_id in ("a1", "b2", "c3"):  # three raw paths, one route pattern
        await http.get(f"/classes/Thing/{object_id}", headers=APP)
    async with http.get("/admin/metrics", headers=ADMIN) as reply:  # waits for the history writer
        assert reply.status == 200
    async with http.get("/metrics", headers=ADMIN) as reply:
        assert reply.status == 200
        assert reply.headers["Content-Type"].startswith("text/plain")
        found = samples(await reply.text())
    runs = [s for s in found if s.name == "noodl_function_duration_seconds_count"]
    assert [(s.labels, s.value) for s in runs] == [({"workflow": "hello", "status": "success"}, 3.0)]
    fires = {
        (s.labels["trigger_type"], s.labels["outcome"]): s.value
        for s in found
        if s.name == "noodl_trigger_fires_total"
    }
    assert fires == {("webhook", "run"): 3.0}
    requests = [s for s in found if s.name == "noodl_http_requests_total"]
    routes = {s.labels["route"] for s in requests}
    assert not any("a1" in route or "b2" in route for route in routes)
    by_object = [
        s for s in requests if s.labels["route"].startswith("/classes/") and s.labels["method"] == "GET"
    ]
    assert len(by_object) == 1
    assert by_object[0].value == 3.0
    assert any(s.labels["route"] == "/admin/metrics" for s in requests)
    names = {s.name for s in found}
    assert {
        "noodl_history_backlog_rows",
        "noodl_store_write_queue_depth",
        "process_cpu_seconds_total",
    } <= names


async def test_route_labels_stay_bounded_whatever_paths_are_requested(http: aiohttp.ClientSession) -> None:
    for index in range(40):
        await http.get(f"/no-such-place/{index}/x{index}", headers=APP)
        await http.get(f"/classes/Kind{index}", headers=APP)
    async with http.get("/metrics", headers=ADMIN) as reply:
        found = samples(await reply.text())
    routes = {s.labels["route"] for s in found if s.name == "noodl_http_requests_total"}
    assert len(routes) <= 4
    assert not any("Kind" in route or "no-such-place" in route for route in routes)
