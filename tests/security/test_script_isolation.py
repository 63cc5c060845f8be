"""Scripts cannot hold the server or reach each other over the wire: a backend keeps answering while
functions spin, and code arriving at an array input from an anonymous caller stays in its own run."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from sidecar.backends.backend import Backend
from tests.runtime.graphs import component, conn, export, function_node, request_node, response_node
from tests.runtime.test_script_isolation import READ_BACK, STEAL, TASKS_GRAPH, victim_graph
from tests.security.conftest import ADMIN, APP, answer


def spin_bundle() -> dict[str, Any]:
    return export(
        component(
            "spin",
            [request_node(), function_node("while (true) {}"), response_node()],
            [conn("req", "receive", "fn", "run"), conn("fn", "out-Done", "resp", "send")],
        )
    )


async def deploy(http: aiohttp.ClientSession, name: str, bundle: dict[str, Any]) -> None:
    assert (await http.put(f"/admin/workflows/{name}", json=bundle, headers=ADMIN)).status == 200


async def test_health_answers_quickly_while_ten_functions_spin(
    http: aiohttp.ClientSession, backend: Backend
) -> None:
    await deploy(http, "spin", spin_bundle())
    calls = [asyncio.ensure_future(http.post("/functions/spin", json={}, headers=APP)) for _ in range(10)]

    # Each probe's latency counts the loop's delay in waking the pause before it, too.
    latencies = []
    for pause in [0.1] + [0.02] * 19:
        started = time.perf_counter()
        await asyncio.sleep(pause)
        async with http.get("/health") as probe:
            assert probe.status == 200
            await probe.read()
        latencies.append(time.perf_counter() - started - pause)
    still_spinning = sum(not call.done() for call in calls)
    responses = [await call for call in calls]

    assert sorted(latencies)[-1] < 0.1, latencies  # p99 of 20 probes: the slowest
    assert still_spinning > 0  # the probes really ran while scripts spun
    for response in responses:
        status, body = await answer(response)
        assert status >= 400
        assert body["error"] == "script exceeded its time limit"  # as before: the run's time limit


async def test_an_anonymous_array_input_string_cannot_read_another_callers_body(
    http: aiohttp.ClientSession,
) -> None:
    await deploy(http, "tasks", TASKS_GRAPH)
    await deploy(http, "victim", victim_graph("Outputs.out = Inputs.secret.length; Outputs.Done();"))

    status, first = await answer(await http.post("/functions/tasks", json={"items": STEAL}, headers=APP))
    assert (status, first) == (200, {"result": {"items": [1]}})
    victim = await http.post("/functions/victim", json={"secret": "hunter2-victim-secret"}, headers=APP)
    assert (await answer(victim)) == (200, {"result": {"out": 21}})
    status, read = await answer(await http.post("/functions/tasks", json={"items": READ_BACK}, headers=APP))

    assert (status, read) == (200, {"result": {"items": [2]}})
