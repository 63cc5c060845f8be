"""A real backend on a loopback port: the editor's HTTP routes, functions, webhooks and history."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sidecar.backends.backend import Backend, BackendSpec
from tests.conftest import PROJECT_ROOT

TOKEN = "admin-token-for-tests-0123456789"
HELLO = json.loads((PROJECT_ROOT / "examples" / "hello.workflow.json").read_text())


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[Backend]:
    served = Backend(
        BackendSpec(data_dir=tmp_path, backend_id="backend_http1", name="HTTP", admin_token=TOKEN)
    )
    await served.start()
    yield served
    await served.stop()


@pytest.fixture
async def http(backend: Backend) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as session:
        yield session


ADMIN = {"Authorization": f"Bearer {TOKEN}"}
APP = {"X-Parse-Application-Id": "backend_http1"}


async def answer(response: aiohttp.ClientResponse) -> tuple[int, Any]:
    return response.status, json.loads(await response.text())


async def test_health_has_the_contract_shape(http: aiohttp.ClientSession) -> None:
    status, health = await answer(await http.get("/health"))
    assert status == 200
    assert health["ok"] is True
    assert health["service"] == "nodegx-backend"
    assert health["backendId"] == "backend_http1"
    assert health["backendName"] == "HTTP"
    assert health["persistence"] == {
        "mode": "persistent",
        "engine": "sqlite3",
        "persistent": True,
        "ephemeral": False,
        "error": None,
    }
    assert health["workflows"] == {"initialized": True, "workflowCount": 0, "functions": []}
    assert isinstance(health["uptimeMs"], int)


async def test_health_shows_the_history_writer_backlog_and_degradation(
    backend: Backend, http: aiohttp.ClientSession
) -> None:
    await http.put("/admin/workflows/hello", json=HELLO, headers=ADMIN)
    for _ in range(3):
        async with http.post("/functions/hello", json={"name": "Ada"}, headers=APP) as reply:
            assert reply.status == 200
    status, health = await answer(await http.get("/health"))
    assert status == 200
    history = health["history"]
    assert history["enabled"] is True
    assert history["journal"] is True
    # Three runs were answered: at most that many can still wait for the writer.
    assert 0 <= history["backlogRuns"] <= 3
    assert history["summaryOnlyAbove"] == 1000
    counts = ("summaryOnlyRuns", "stepsNotRecorded", "droppedRows", "recoveredAtStart", "interruptedAtStart")
    assert {key: history[key] for key in counts} == dict.fromkeys(counts, 0)


async def test_an_ephemeral_backend_says_its_history_is_off(tmp_path: Path) -> None:
    served = Backend(
        BackendSpec(data_dir=tmp_path, backend_id="backend_eph", name="E", admin_token=TOKEN, ephemeral=True)
    )
    await served.start()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{served.port}") as session:
            _, health = await answer(await session.get("/health"))
    finally:
        await served.stop()
    assert health["history"] == {"enabled": False}


async def test_admin_routes_need_the_admin_token(http: aiohttp.ClientSession) -> None:
    assert (await http.get("/admin/schema")).status == 401
    assert (await http.get("/admin/schema", headers={"Authorization": "Bearer wrong"})).status == 401
    assert (await http.get("/executions", headers={"Authorization": "Bearer wrong"})).status == 401
    assert (await http.get("/admin/schema", headers=ADMIN)).status == 200


async def test_schema_actions(http: aiohttp.ClientSession) -> None:
    created = {"action": "createTable", "table": "Todo", "columns": [{"name": "title", "type": "String"}]}
    status, body = await answer(await http.post("/admin/schema", json=created, headers=ADMIN))
    assert (status, body) == (200, {"success": True, "created": True, "tableName": "Todo"})
    add = {"action": "addColumn", "table": "Todo", "column": {"name": "done", "type": "Boolean"}}
    assert (await http.post("/admin/schema", json=add, headers=ADMIN)).status == 200
    status, table = await answer(await http.get("/admin/schema/Todo", headers=ADMIN))
    assert [column["name"] for column in table["columns"]] == ["title", "done"]
    status, exported = await answer(await http.get("/admin/schema-export?format=postgres", headers=ADMIN))
    assert "CREATE TABLE" in exported["content"]
    status, body = await answer(await http.post("/admin/schema", json={"action": "explode"}, headers=ADMIN))
    assert status == 400
    assert "error" in body


async def test_deploy_run_and_read_the_history(http: aiohttp.ClientSession) -> None:
    status, deployed = await answer(await http.put("/admin/workflows/hello", json=HELLO, headers=ADMIN))
    assert (status, deployed["success"], deployed["version"]["workflow"]) == (200, True, "hello")
    status, workflows = await answer(await http.get("/admin/workflows", headers=ADMIN))
    assert workflows["functions"] == [{"name": "hello", "workflow": "hello"}]

    # The Request node allows anonymous calls: the application id (the backend id) is enough.
    call = await http.post("/functions/hello", json={"name": "Web"}, headers=APP)
    status, result = await answer(call)
    assert status == 200
    assert result == {"result": {"message": "Hello Web, this answer came from noodl-sidecar.", "letters": 3}}

    for _ in range(50):
        status, rows = await answer(await http.get("/executions?workflowId=hello", headers=ADMIN))
        if rows and rows[0].get("status") == "success":
            break
        await asyncio.sleep(0.05)
    assert isinstance(rows, list)
    assert rows[0]["triggerType"] == "webhook"
    status, detail = await answer(await http.get(f"/executions/{rows[0]['id']}", headers=ADMIN))
    assert {step["nodeId"] for step in detail["steps"]} <= {
        node["id"] for node in HELLO["components"][0]["nodes"]
    }
    assert (await http.get("/executions/exec_nope", headers=ADMIN)).status == 404


async def test_a_function_without_allow_no_auth_refuses_anonymous_callers(
    http: aiohttp.ClientSession,
) -> None:
    private = copy.deepcopy(HELLO)
    private["components"][0]["nodes"][0]["parameters"]["allowNoAuth"] = False
    assert (await http.put("/admin/workflows/private", json=private, headers=ADMIN)).status == 200
    # A new local backend is dev-open (contract §3.2): the door lets anyone through and the graph's
    # Request node refuses; an enforced policy refuses at the door with 403/119.
    status, body = await answer(await http.post("/functions/hello", json={}, headers=APP))
    assert (status, body) == (500, {"error": "Unauthenticated requests not accepted."})
    assert (await http.put("/admin/permissions", json={"devOpen": False}, headers=ADMIN)).status == 200
    status, body = await answer(await http.post("/functions/hello", json={}, headers=APP))
    assert status == 403
    assert body["code"] == 119
    # The admin passes the door, but the graph's Request node still wants a user, as the real
    # runner's does; a rejected run is the local backend's 500 with the runner's message.
    status, body = await answer(await http.post("/functions/hello", json={"name": "Admin"}, headers=ADMIN))
    assert (status, body) == (500, {"error": "Unauthenticated requests not accepted."})


async def test_a_broken_export_is_refused_and_changes_nothing(
    http: aiohttp.ClientSession, backend: Backend
) -> None:
    await http.put("/admin/workflows/hello", json=HELLO, headers=ADMIN)
    broken = {"components": [{"name": "/#__cloud__/hello", "nodes": [{"id": "a"}]}]}
    status, body = await answer(await http.put("/admin/workflows/hello", json=broken, headers=ADMIN))
    assert status == 400
    assert body["success"] is False
    saved = json.loads((backend.spec.data_dir / "workflows" / "hello.workflow.json").read_text())
    assert saved == HELLO


async def test_webhook_with_a_token_runs_the_function_and_rejections_are_recorded(
    http: aiohttp.ClientSession,
) -> None:
    await http.put("/admin/workflows/hello", json=HELLO, headers=ADMIN)
    definition = {
        "type": "webhook",
        "target": {"kind": "function", "name": "hello"},
        "webhook": {"slug": "greet", "scheme": "token"},
    }
    status, created = await answer(await http.post("/admin/triggers", json=definition, headers=ADMIN))
    assert status == 201
    secret = created["secret"]
    assert secret.startswith("whsec_")

    hook = "/hooks/backend_http1/greet"
    good = await http.post(hook, json={"name": "Hook"}, headers={"X-Webhook-Token": secret})
    assert good.status == 200
    assert "Hello" in (await good.text())
    bad = await http.post(hook, json={"name": "Hook"}, headers={"X-Webhook-Token": "whsec_wrong"})
    assert bad.status == 401
    assert (await http.post("/hooks/backend_http1/unknown", json={})).status == 404

    for _ in range(50):
        _status, rows = await answer(await http.get("/executions", headers=ADMIN))
        if any(row.get("metadata", {}).get("rejected") for row in rows):
            break
        await asyncio.sleep(0.05)
    rejected = [row for row in rows if row.get("metadata", {}).get("rejected")]
    assert len(rejected) == 1
    assert rejected[0]["status"] == "error"
    assert "webhook token does not match" in rejected[0]["errorMessage"]


async def test_execution_events_stream_over_sse(http: aiohttp.ClientSession) -> None:
    await http.put("/admin/workflows/hello", json=HELLO, headers=ADMIN)
    stream = await http.get("/executions/stream", params={"authToken": TOKEN})
    assert stream.status == 200
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    call = asyncio.ensure_future(http.post("/functions/hello", json={"name": "SSE"}, headers=ADMIN))
    frames: list[dict[str, str]] = []
    frame: dict[str, str] = {}
    async with asyncio.timeout(5):
        async for raw in stream.content:
            line = raw.decode().rstrip("\n")
            if not line:
                frames.append(frame)
                frame = {}
                if frames[-1].get("event") == "execution:finished":
                    break
                continue
            field, _, value = line.partition(": ")
            frame[field] = value
    await call
    stream.close()
    assert frames[0]["event"] == "execution:started"
    execution_id = json.loads(frames[0]["data"])["executionId"]
    assert [f["id"] for f in frames] == [f"{execution_id}:{n}" for n in range(1, len(frames) + 1)]


async def test_byob_api_records_and_schema(http: aiohttp.ClientSession) -> None:
    table = {"table": {"name": "Item", "columns": [{"name": "name", "type": "String"}]}}
    assert (await http.post("/api/_schema", json=table)).status == 401
    assert (await http.post("/api/_schema", json=table, headers=ADMIN)).status == 200
    column = {"table": "Item", "column": {"name": "price", "type": "Number"}}
    assert (await http.post("/api/_schema", json=column, headers=ADMIN)).status == 200
    status, schema = await answer(await http.get("/api/_schema", headers=ADMIN))
    assert schema["version"] == 1
    assert [c["name"] for c in next(t for t in schema["tables"] if t["name"] == "Item")["columns"]] == [
        "name",
        "price",
    ]

    status, created = await answer(
        await http.post("/api/Item", json={"name": "pen", "price": 2}, headers=ADMIN)
    )
    assert status == 201
    assert created["name"] == "pen"
    item = created["objectId"]
    status, updated = await answer(await http.put(f"/api/Item/{item}", json={"price": 3}, headers=ADMIN))
    assert updated["price"] == 3
    await http.post("/api/Item", json={"name": "cup", "price": 9}, headers=ADMIN)
    params = {"where": json.dumps({"price": {"$lt": 5}}), "sort": json.dumps(["-price"]), "count": "1"}
    status, page = await answer(await http.get("/api/Item", params=params, headers=ADMIN))
    assert (page["count"], [row["name"] for row in page["results"]]) == (1, ["pen"])
    status, body = await answer(await http.get("/api/Item", params={"where": "{oops"}, headers=ADMIN))
    assert (status, body) == (400, {"error": "Invalid where parameter"})
    status, body = await answer(
        await http.get("/api/Item", params={"where": '{"a":{"$bogus":1}}'}, headers=ADMIN)
    )
    assert status == 400, "an unknown operator is an error, never a wider result"
    assert "$bogus" in body["error"]

    batch = {
        "requests": [
            {"method": "POST", "path": "/api/Item", "body": {"name": "ink"}},
            {"method": "DELETE", "path": f"/api/Item/{item}"},
            {"method": "PATCH", "path": "/api/Item"},
        ]
    }
    status, results = await answer(await http.post("/api/_batch", json=batch, headers=ADMIN))
    assert results["results"][0]["name"] == "ink"
    assert results["results"][1] == {"success": True}
    assert "error" in results["results"][2]
    assert (await http.get(f"/api/Item/{item}", headers=ADMIN)).status == 404
