"""Pinned node data and run from a node, on ``g``: a branch, a Function that awaits, a Retry, a For Each."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sidecar.backends.backend import Backend
from sidecar.errors import InvalidParamsError, RunFromNodeRefusedError
from tests.channels import Channels

BODY = {"flag": True, "name": "Ada", "items": [{"n": 2}, {"n": 5}], "waitMs": 0, "failUntil": 2}
ANSWER = {"result": {"greeting": "Hello Ada", "attempts": 2, "results": [5, 2]}}
FN_PIN = {"fn": {"out-greeting": "Hello Pinned", "out-Done": True}}


async def _production(backend: Backend, body: dict[str, Any]) -> tuple[Any, str]:
    from sidecar.backends import functions

    response, execution_id = await functions.invoke_recorded(backend, "g", json.dumps(body), {})
    assert execution_id is not None
    return response, execution_id


async def test_a_full_run_of_the_flow(backend: Backend) -> None:
    response, _ = await _production(backend, BODY)

    assert (response.status_code, json.loads(response.body)) == (200, ANSWER)


async def test_a_pinned_node_sends_its_pin_instead_of_running_and_its_step_says_so(
    backend: Backend, channels: Channels
) -> None:
    boom = {**BODY, "name": "boom"}  # fn would throw: the pin stands in for it

    answer = await channels("debug:test-run", "backend_debug", "g", {"body": boom, "pins": FN_PIN})

    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["result"]["greeting"] == "Hello Pinned"
    assert answer["pinnedNodes"] == ["fn"]
    pinned = await channels("execution:pin", answer["executionId"])
    assert pinned["nodes"]["fn"]["debug"] == "pinned"
    assert pinned["nodes"]["fn"]["status"] == "success"
    assert pinned["nodes"]["fn"]["outputs"]["out-greeting"]["value"] == "Hello Pinned"
    assert "__debug" not in pinned["nodes"]["fn"]["outputs"]
    assert "debug" not in pinned["nodes"]["retry"]
    stored = await backend.history.get_execution(answer["executionId"])
    assert stored["triggerType"] == "test"
    assert stored["metadata"]["pinnedNodes"] == ["fn"]


async def test_saved_pins_apply_to_test_runs_and_never_to_production_runs(
    backend: Backend, channels: Channels
) -> None:
    saved = await channels("debug:set-pins", "backend_debug", "g", FN_PIN)
    assert saved == {"function": "g", "pins": FN_PIN}

    tested = await channels("debug:test-run", "backend_debug", "g", {"body": BODY})
    production, _ = await _production(backend, BODY)
    unpinned = await channels("debug:test-run", "backend_debug", "g", {"body": BODY, "useSavedPins": False})

    assert json.loads(tested["body"])["result"]["greeting"] == "Hello Pinned"
    assert json.loads(production.body) == ANSWER
    assert json.loads(unpinned["body"]) == ANSWER
    cleared = await channels("debug:set-pins", "backend_debug", "g", {})
    assert cleared == {"function": "g", "pins": {}}


@pytest.mark.parametrize(
    ("pins", "needle"),
    [
        ({"nope": {"x": 1}}, "no such node"),
        ({"resp-ok": {"x": 1}}, "Request and Response"),
        ({"fn": {"__debug": 1}}, "reserved"),
    ],
)
async def test_bad_pins_are_refused_with_the_reason(
    channels: Channels, pins: dict[str, Any], needle: str
) -> None:
    with pytest.raises(InvalidParamsError, match=needle):
        await channels("debug:test-run", "backend_debug", "g", {"body": BODY, "pins": pins})


@pytest.mark.parametrize("start", ["fn", "retry", "cond"])
async def test_run_from_a_node_replays_upstream_and_gives_the_same_answer(
    backend: Backend, channels: Channels, start: str
) -> None:
    full, execution_id = await _production(backend, BODY)

    answer = await channels("execution:run-from", execution_id, start)

    assert (answer["statusCode"], answer["body"]) == (full.status_code, full.body)
    assert answer["runFrom"] == {"executionId": execution_id, "nodeId": start}
    expected = {"fn": ["req", "cond"], "retry": ["req", "cond", "fn"], "cond": ["req"]}[start]
    assert answer["replayedNodes"] == expected
    pinned = await channels("execution:pin", answer["executionId"])
    replayed = sorted(node_id for node_id, node in pinned["nodes"].items() if node.get("debug") == "replayed")
    assert replayed == sorted(set(expected) - {"req"})
    assert "debug" not in pinned["nodes"][start]
    stored = await backend.history.get_execution(answer["executionId"])
    assert stored["metadata"]["runFrom"] == {"executionId": execution_id, "nodeId": start}
    assert stored["metadata"]["replayedNodes"] == expected


async def test_run_from_a_node_does_not_run_the_nodes_upstream(backend: Backend, channels: Channels) -> None:
    """The Function upstream sends its recorded outputs in a replayed step, not a run of its script."""
    _, execution_id = await _production(backend, BODY)

    answer = await channels("execution:run-from", execution_id, "retry")
    stored = await backend.history.get_execution(answer["executionId"])
    fn_steps = [step for step in stored["steps"] if step["nodeId"] == "fn"]

    assert json.loads(answer["body"])["result"]["greeting"] == "Hello Ada"
    assert fn_steps
    assert all(step["outputData"].get("__debug") == "replayed" for step in fn_steps)
    assert all("__console" not in step["outputData"] for step in fn_steps)


async def test_run_from_refuses_a_node_downstream_of_a_loop_owner(
    backend: Backend, channels: Channels
) -> None:
    _, execution_id = await _production(backend, BODY)

    with pytest.raises(RunFromNodeRefusedError, match="cannot be resumed") as refused:
        await channels("execution:run-from", execution_id, "nap")

    assert refused.value.data["reason"] == "not-resumable"


async def test_run_from_refuses_an_upstream_output_cut_by_history_limits(
    backend: Backend, channels: Channels
) -> None:
    big = "x" * 2_000_000  # over the history's per-step limit: fn's greeting is cut when recorded
    _, execution_id = await _production(backend, {**BODY, "name": big})

    with pytest.raises(RunFromNodeRefusedError) as refused:
        await channels("execution:run-from", execution_id, "retry")

    assert refused.value.data["reason"] == "truncated"
    assert refused.value.data["nodeId"] in {"req", "fn"}


async def test_run_from_refuses_a_node_of_no_canvas(backend: Backend, channels: Channels) -> None:
    _, execution_id = await _production(backend, BODY)

    with pytest.raises(RunFromNodeRefusedError, match="not a canvas node"):
        await channels("execution:run-from", execution_id, "calc")


async def test_the_admin_routes_pin_run_from_and_step_as_the_channels(backend: Backend) -> None:
    import asyncio

    import aiohttp

    admin = {"Authorization": f"Bearer {backend.spec.admin_token}"}
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}", headers=admin) as http:
        saved = await http.put("/admin/debug/pins/g", json=FN_PIN)
        assert (saved.status, await saved.json()) == (200, {"function": "g", "pins": FN_PIN})
        assert (await (await http.get("/admin/debug/pins/g")).json())["pins"] == FN_PIN
        tested = await (await http.post("/admin/debug/run/g", json={"body": BODY})).json()
        assert json.loads(tested["body"])["result"]["greeting"] == "Hello Pinned"
        await http.put("/admin/debug/pins/g", json={})

        full, execution_id = await _production(backend, BODY)
        ran = await (await http.post(f"/executions/{execution_id}/run-from", json={"nodeId": "retry"})).json()
        assert (ran["statusCode"], ran["body"]) == (full.status_code, full.body)
        refused = await http.post(f"/executions/{execution_id}/run-from", json={"nodeId": "nap"})
        assert refused.status == 409
        assert (await http.post(f"/executions/{execution_id}/run-from", json={"node": "x"})).status == 400
        assert (await http.post("/admin/debug/run/g", json={"breakpoint": ["fn"]})).status == 400
        assert (await http.post(f"/executions/{execution_id}/continue")).status == 409

        call = asyncio.ensure_future(
            http.post("/admin/debug/run/g", json={"body": BODY, "breakpoints": ["fn"]})
        )
        for _ in range(500):
            paused = [i for i in backend.running.ids() if backend.running.debug_session(i).paused_at]
            if paused:
                break
            await asyncio.sleep(0.01)
        stepped = await (await http.post(f"/executions/{paused[0]}/step")).json()
        assert stepped["nodeId"] == "fn"
        while not call.done():
            debug = backend.running.debug_session(paused[0])
            if debug is not None and debug.paused_at is not None:
                await http.post(f"/executions/{paused[0]}/continue")
            await asyncio.sleep(0.01)
        answer = await (await call).json()
        assert answer["statusCode"] == 200
        assert answer["pauses"][0] == "fn"
        assert (
            await http.put("/admin/debug/pins/g", json={}, headers={"Authorization": "Bearer no"})
        ).status == 401
