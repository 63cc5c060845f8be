"""One status everywhere: for every way a run can end, the HTTP answer, ``function:run``, the history row,
the ``execution:finished`` event and ``noodl-sidecar run`` agree on status code and error text."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sidecar.backends import functions
from sidecar.backends.backend import Backend, BackendSpec
from sidecar.errors import FunctionNotFoundError
from sidecar.events import EventKind
from tests.conftest import PROJECT_ROOT
from tests.runtime.graphs import component, conn, export, function_node, node, request_node, response_node

TOKEN = "admin-token-for-status-tests-0123"
BACKEND_ID = "backend_status1"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
TIMEOUT_MS = 300

SEND = conn("req", "receive", "resp", "send")
FUNCTIONS = export(
    component("answer", [request_node(), response_node(**{"pm-v": "yes"})], [SEND]),
    component("refuse", [request_node(), response_node(status="failure", errorMessage="no way")], [SEND]),
    # Without allowNoAuth and without a session the Request node rejects the run (admin passes the door).
    component("locked", [node("req", "noodl.cloud.request"), response_node()], [SEND]),
    component(
        "stop",
        [request_node(), node("stop", "Workflow Stop", {"errorMessage": "Out of stock"})],
        [conn("req", "receive", "stop", "run")],
    ),
    component(
        "throws",
        [request_node(), function_node("throw new Error('boom')"), response_node()],
        [conn("req", "receive", "fn", "run"), conn("fn", "out-Done", "resp", "send")],
    ),
    component("silent", [request_node(), response_node()], []),
)
# Each ends its own way: responded (2xx / 4xx), rejected, stopped, failed by a throw, never answered.
OUTCOMES = {
    "answer": 200,
    "refuse": 400,
    "locked": 500,
    "stop": 500,
    "throws": 504,
    "silent": 504,
}


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[Backend]:
    served = Backend(BackendSpec(data_dir=tmp_path, backend_id=BACKEND_ID, name="Status", admin_token=TOKEN))
    await served.start()
    yield served
    await served.stop()


@pytest.fixture
async def http(backend: Backend) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as session:
        policy = {"devOpen": True, "functions": {name: {"timeoutMs": TIMEOUT_MS} for name in OUTCOMES}}
        assert (await session.put("/admin/permissions", json=policy, headers=ADMIN)).status == 200
        assert (await session.put("/admin/workflows/all", json=FUNCTIONS, headers=ADMIN)).status == 200
        yield session


def run_command(export_file: Path, name: str) -> tuple[int, str]:
    """``noodl-sidecar run`` with the same export and body, as (statusCode, body)."""
    command = [sys.executable, "-m", "sidecar", "run", str(export_file), name, "--body", "{}"]
    command += ["--timeout", str(TIMEOUT_MS / 1000)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60, check=False)
    [line] = done.stdout.splitlines()
    answer = json.loads(line)
    return answer["statusCode"], answer["body"]


def error_text(status: int, body: str) -> str | None:
    """What the history says of an answer: nothing for a 2xx, else ``HTTP <status>: <error>``."""
    if 200 <= status < 300:
        return None
    return f"HTTP {status}: {json.loads(body)['error']}"


async def finished_event(subscription: Any, workflow: str) -> dict[str, Any]:
    async with asyncio.timeout(5):
        async for event in subscription:
            if event.kind == EventKind.FINISHED and event.workflow_id == workflow:
                data: dict[str, Any] = event.data
                return data
    raise AssertionError("no execution:finished event")


async def newest_row(backend: Backend, workflow: str) -> dict[str, Any]:
    rows = (await backend.history.list_executions({"workflowId": workflow}))["executions"]
    row: dict[str, Any] = rows[0]
    return row


async def test_every_outcome_has_one_status_everywhere(
    backend: Backend, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    export_file = tmp_path / "all.export.json"
    export_file.write_text(json.dumps(FUNCTIONS))
    printed = dict(
        zip(
            OUTCOMES,
            await asyncio.gather(*(asyncio.to_thread(run_command, export_file, name) for name in OUTCOMES)),
            strict=True,
        )
    )

    for name, status in OUTCOMES.items():
        subscription = backend.bus.subscribe(BACKEND_ID, name)
        reply = await http.post(f"/functions/{name}", json={}, headers=ADMIN)
        answered = (reply.status, await reply.text())
        event = await finished_event(subscription, name)
        backend.bus.unsubscribe(subscription.id)
        row = await newest_row(backend, name)
        over_ipc = await functions.invoke(backend, name, "{}", {})

        assert answered[0] == status, (name, answered)
        assert (over_ipc.status_code, over_ipc.body) == answered, name
        assert printed[name] == answered, name
        assert row["status"] == event["status"] == ("success" if status < 300 else "error"), name
        assert row.get("errorMessage") == event.get("errorMessage") == error_text(*answered), name


async def test_a_rejection_is_500_with_its_message_in_the_answer_and_the_history(
    backend: Backend, http: aiohttp.ClientSession
) -> None:
    reply = await http.post("/functions/locked", json={}, headers=ADMIN)

    assert (reply.status, await reply.json()) == (500, {"error": "Unauthenticated requests not accepted."})
    row = await newest_row(backend, "locked")
    assert row["errorMessage"] == "HTTP 500: Unauthenticated requests not accepted."


async def test_an_unknown_function_is_404_at_every_door_and_records_no_run(
    backend: Backend, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    export_file = tmp_path / "all.export.json"
    export_file.write_text(json.dumps(FUNCTIONS))

    reply = await http.post("/functions/nope", json={}, headers=ADMIN)
    answered = (reply.status, await reply.text())

    assert answered == (404, '{"error":"Function \'nope\' not found","code":"function/not-found"}')
    # The command line is run by the export's own author: its error text also names the functions
    # there are (the HTTP door does not tell callers what else exists).
    ran_status, ran_body = await asyncio.to_thread(run_command, export_file, "nope")
    door, ran = json.loads(answered[1]), json.loads(ran_body)
    assert (ran_status, ran["code"]) == (answered[0], door["code"])
    assert ran["error"].startswith(door["error"] + " (available: ")
    with pytest.raises(FunctionNotFoundError) as raised:
        await functions.invoke(backend, "nope", "{}", {})
    assert raised.value.message == json.loads(answered[1])["error"]
    assert (await backend.history.list_executions({"workflowId": "nope"}))["executions"] == []


async def test_a_fault_while_starting_a_run_is_its_500_answer_never_a_crash_or_a_running_row(
    backend: Backend, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_build(*_args: Any) -> Any:
        raise RuntimeError("broken build")

    monkeypatch.setattr("sidecar.runtime.runtime.instantiate", broken_build)
    subscription = backend.bus.subscribe(BACKEND_ID, "answer")

    reply = await http.post("/functions/answer", json={}, headers=ADMIN)

    assert (reply.status, await reply.json()) == (500, {"error": "broken build"})
    event = await finished_event(subscription, "answer")
    row = await newest_row(backend, "answer")
    assert row["status"] == event["status"] == "error"
    assert row["errorMessage"] == event["errorMessage"] == "HTTP 500: broken build"
