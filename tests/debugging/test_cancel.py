"""``execution:cancel``: a running execution stops at once, its caller gets 499 ``function/cancelled``,
nothing of it stays scheduled, and the history records ``cancelled`` with the node at work."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest

from sidecar.backends.backend import Backend
from sidecar.errors import ExecutionNotFoundError, ExecutionNotRunningError
from sidecar.runtime.export import CLOUD_PREFIX
from tests.channels import Channels
from tests.debugging.conftest import call_flow
from tests.runtime.graphs import component, conn, export, node, request_node, response_node
from tests.workflow.graphs import child

PARKED = {"flag": True, "name": "Ada", "items": [{"n": 1}], "waitMs": 1_000}


async def running_id(backend: Backend) -> str:
    """The execution id of the one run in progress, once it is parked in its Wait."""
    for _ in range(200):
        ids = backend.running.ids()
        if ids and backend.running._runs[ids[0]].ctx.waiting_node() == "nap":
            return ids[0]
        await asyncio.sleep(0.005)
    raise AssertionError("the run never reached its Wait")


async def test_cancel_answers_the_caller_stops_the_timer_and_records_the_node(
    backend: Backend, channels: Channels
) -> None:
    started = time.perf_counter()
    call = asyncio.ensure_future(call_flow(backend, PARKED))
    execution_id = await running_id(backend)
    ctx = backend.running._runs[execution_id].ctx
    assert ctx._tasks  # the Wait's timer is pending
    live = await channels("execution:pin", execution_id)  # a running execution pins with its steps so far
    assert live["status"] == "running"
    assert "nap" in live["order"]

    cancelled = await channels("execution:cancel", execution_id)

    assert cancelled == {"cancelled": True, "executionId": execution_id, "nodeId": "nap"}
    response, answered_id = await call
    assert answered_id == execution_id
    assert time.perf_counter() - started < 0.9  # the caller did not wait for the 1 s timer
    assert response.status_code == 499
    assert json.loads(response.body) == {
        "error": 'Cloud function "f" was cancelled.',
        "code": "function/cancelled",
        "function": "f",
        "nodeId": "nap",
    }
    await asyncio.sleep(0)
    assert not ctx._tasks  # the timer is cancelled: nothing left to fire into the run
    assert not ctx.nodes
    assert execution_id not in backend.running

    found = await backend.history.get_execution(execution_id)
    assert found is not None
    assert found["status"] == "cancelled"
    assert found["metadata"]["cancelledNodeId"] == "nap"
    assert found["metadata"]["disposition"] == "cancelled"
    steps_then = len(found["steps"])
    await asyncio.sleep(1.1)  # past the timer: the Wait never fires into the cancelled run
    later = await backend.history.get_execution(execution_id)
    assert later is not None
    assert len(later["steps"]) == steps_then
    pinned = await channels("execution:pin", execution_id)
    assert (pinned["status"], pinned["cancelledNodeId"]) == ("cancelled", "nap")
    assert (await backend.history.list_executions({"status": "cancelled"}))["executions"][0][
        "id"
    ] == execution_id


async def test_cancel_refuses_finished_and_unknown_executions(backend: Backend, channels: Channels) -> None:
    _response, finished = await call_flow(backend, {"flag": False})
    with pytest.raises(ExecutionNotRunningError) as refused:
        await channels("execution:cancel", finished)
    assert refused.value.http_status == 409
    assert refused.value.data == {"executionId": finished, "status": "success"}
    with pytest.raises(ExecutionNotFoundError):
        await channels("execution:cancel", "exec_nope")


async def test_an_http_caller_gets_499_when_its_run_is_cancelled_over_the_admin_route(
    backend: Backend,
) -> None:
    admin = {"Authorization": f"Bearer {backend.spec.admin_token}"}
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}", headers=admin) as http:
        call = asyncio.ensure_future(http.post("/functions/f", json=PARKED))
        execution_id = await running_id(backend)
        stop = await http.post(f"/executions/{execution_id}/cancel")
        assert (stop.status, (await stop.json())["nodeId"]) == (200, "nap")
        answered = await call
        body: dict[str, Any] = await answered.json()
        assert (answered.status, body["code"]) == (499, "function/cancelled")
        again = await http.post(f"/executions/{execution_id}/cancel")
        assert again.status == 409


async def test_cancel_reaches_the_timers_of_child_components(backend: Backend, channels: Channels) -> None:
    """A For Each whose child parks in a Wait: cancelling deletes the child and cancels its timer."""
    sleeper = child(
        "lib/sleeper",
        [node("nap", "Workflow Wait", {"unit": "ms", "duration": 1_000})],
        [conn("in", "Do", "nap", "run"), conn("nap", "done", "out", "Success")],
    )
    loop = node("loop", "Workflow For Each", {"template": CLOUD_PREFIX + "lib/sleeper"})
    wiring = [
        conn("req", "pm-items", "loop", "items"),
        conn("req", "receive", "loop", "run"),
        conn("loop", "completed", "resp", "send"),
    ]
    backend.workflows.deploy(
        "g", export(component("g", [request_node(params="items"), response_node(), loop], wiring), sleeper)
    )
    from sidecar.backends import functions

    call = asyncio.ensure_future(functions.invoke_recorded(backend, "g", json.dumps({"items": [1, 2]}), {}))
    for _ in range(200):
        if backend.running.ids():
            break
        await asyncio.sleep(0.005)
    execution_id = backend.running.ids()[0]
    ctx = backend.running._runs[execution_id].ctx
    for _ in range(200):  # the first item's child is built after the frame that started the loop
        if ctx._tasks:
            break
        await asyncio.sleep(0.005)
    assert ctx._tasks
    await channels("execution:cancel", execution_id)
    response, _ = await call
    assert response.status_code == 499
    await asyncio.sleep(0)
    assert not ctx._tasks
    assert not ctx.nodes
    found = await backend.history.get_execution(execution_id)
    assert found is not None
    assert found["status"] == "cancelled"


async def test_cancel_stops_a_function_awaiting_a_store_call(
    backend: Backend, channels: Channels, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = "Outputs.count = await Noodl.Records.count('Slow');\nOutputs.Done();\n"
    ports = [
        {"name": "out-count", "plug": "output", "type": "*"},
        {"name": "out-Done", "plug": "output", "type": "signal"},
    ]
    awaiting = node("fn", "JavaScriptFunction", {"functionScript": script}, ports=ports)
    wiring = [
        conn("req", "receive", "fn", "run"),
        conn("fn", "out-count", "resp", "pm-count"),
        conn("fn", "out-Done", "resp", "send"),
    ]
    backend.workflows.deploy(
        "h", export(component("h", [request_node(), response_node(params="count"), awaiting], wiring))
    )
    bundle = backend.workflows.find("h")
    records = bundle.runtime.services.records
    store_call_cancelled = asyncio.Event()

    async def slow_count(*_args: Any) -> int:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            store_call_cancelled.set()
            raise
        return 0

    monkeypatch.setattr(records, "count", slow_count)
    from sidecar.backends import functions

    call = asyncio.ensure_future(functions.invoke_recorded(backend, "h", "{}", {}))
    for _ in range(200):
        ids = backend.running.ids()
        if ids and backend.running._runs[ids[0]].ctx._tasks:
            break
        await asyncio.sleep(0.005)
    execution_id = backend.running.ids()[0]
    cancelled = await channels("execution:cancel", execution_id)
    assert cancelled["nodeId"] == "fn"
    response, _ = await call
    assert response.status_code == 499
    async with asyncio.timeout(1):
        await store_call_cancelled.wait()
    found = await backend.history.get_execution(execution_id)
    assert found is not None
    assert (found["status"], found["metadata"]["cancelledNodeId"]) == ("cancelled", "fn")


async def test_cancel_closes_an_http_call_in_flight(backend: Backend, channels: Channels) -> None:
    """A REST node waiting on a slow server: the cancelled run closes its connection."""
    from aiohttp import web

    arrived, closed = asyncio.Event(), asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        arrived.set()
        for _ in range(500):
            if request.transport is None or request.transport.is_closing():
                closed.set()
                break
            await asyncio.sleep(0.01)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        rest = node("rest", "REST2", {"resource": f"http://127.0.0.1:{port}/slow", "method": "GET"})
        wiring = [conn("req", "receive", "rest", "fetch"), conn("rest", "success", "resp", "send")]
        backend.workflows.deploy("r", export(component("r", [request_node(), response_node(), rest], wiring)))
        from sidecar.backends import functions

        call = asyncio.ensure_future(functions.invoke_recorded(backend, "r", "{}", {}))
        async with asyncio.timeout(2):
            await arrived.wait()
        execution_id = backend.running.ids()[0]
        assert (await channels("execution:cancel", execution_id))["nodeId"] == "rest"
        response, _ = await call
        assert response.status_code == 499
        async with asyncio.timeout(1):
            await closed.wait()
    finally:
        await runner.cleanup()
