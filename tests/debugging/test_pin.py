"""``execution:pin`` and ``execution:step-value``: an execution on the canvas, previews first, full
values on request."""

from __future__ import annotations

import json

import aiohttp
import pytest

from sidecar.backends.backend import Backend
from sidecar.debugging.pin import PREVIEW_CHARS
from sidecar.errors import ExecutionNotFoundError, InvalidParamsError
from tests.channels import Channels
from tests.debugging.conftest import call_flow
from tests.postgres import BACKENDS

# The canvas overlay reads the history through its store's light view: on both stores.
pytestmark = pytest.mark.parametrize("backend", BACKENDS, indirect=True)

ITEMS = [{"n": 2}, {"n": 0}, {"n": 5}]
OWNERS = {"Workflow For Each", "Workflow Retry", "Workflow Try Catch"}


async def test_pin_gives_each_canvas_node_its_ports_status_runs_and_children(
    backend: Backend, channels: Channels
) -> None:
    response, execution_id = await call_flow(
        backend, {"flag": True, "name": "Ada", "items": ITEMS, "waitMs": 1}
    )
    assert json.loads(response.body) == {"result": {"greeting": "Hello Ada", "results": [5, None, 2]}}

    pinned = await channels("execution:pin", execution_id)

    assert pinned["executionId"] == execution_id
    assert pinned["status"] == "success"
    assert pinned["backendId"] == backend.backend_id
    # Canvas nodes in the order they first ran; the branch not taken (resp-no) never ran.
    assert pinned["order"] == ["req", "cond", "fn", "loop", "nap", "resp-ok"]
    fn = pinned["nodes"]["fn"]
    assert fn["inputs"]["in-name"] == {"type": "string", "size": 5, "value": "Ada"}
    assert fn["runCount"] == 1
    assert pinned["nodes"]["cond"]["outputs"]["ontrue"]["value"] is True
    # The Wait's last run is its timer firing, a step of its own.
    assert "waitedMs" in pinned["nodes"]["nap"]["inputs"]
    # The For Each: one run that started the loop, one per item (with its path), and the end.
    loop = pinned["nodes"]["loop"]
    paths = [run["path"] for run in loop["runs"] if "path" in run]
    assert paths == [["loop", "item[0]"], ["loop", "item[1]"], ["loop", "item[2]"]]
    assert loop["status"] == "error"  # the failed item is what the overlay shows first
    assert loop["error"]["path"] == ["loop", "item[1]"]
    assert loop["error"]["childNodeId"] == "out"  # the child's Component Outputs sent Failure
    assert loop["shownStepId"] == loop["error"]["stepId"]
    assert pinned["error"]["nodeId"] == "loop"
    # Nodes inside the template are no canvas nodes: one child entry per item, with the item's path.
    children = pinned["children"]
    assert [child["path"] for child in children] == paths
    assert {child["component"] for child in children} == {"/#__cloud__/lib/invert"}
    assert children[0]["nodes"]["calc"]["outputs"]["result"]["value"] == 5
    assert children[1]["nodes"]["calc"]["outputs"]["result"]["value"] is False
    assert "calc" not in pinned["nodes"]


async def test_a_failed_function_names_its_node_and_a_large_value_crosses_only_on_request(
    backend: Backend, channels: Channels
) -> None:
    long_name = "x" * 5_000
    _response, ok_id = await call_flow(backend, {"flag": True, "name": long_name, "items": [], "waitMs": 0})
    pinned = await channels("execution:pin", ok_id)
    shown = pinned["nodes"]["fn"]["inputs"]["in-name"]
    assert shown["truncated"] is True
    assert shown["size"] == 5_002
    assert len(shown["preview"]) == PREVIEW_CHARS + 1
    assert len(json.dumps(pinned)) < 10_000  # the 5 kB value crossed as previews only

    step_id = pinned["nodes"]["fn"]["shownStepId"]
    full = await channels("execution:step-value", {"stepId": step_id, "side": "input", "port": "in-name"})
    assert full["value"] == long_name
    assert (full["nodeId"], full["size"]) == ("fn", 5_002)

    response, failed_id = await call_flow(backend, {"flag": True, "name": "boom", "items": [], "waitMs": 0})
    assert response.status_code == 504  # the thrown script never reaches a Response: the timeout answers
    failed = await channels("execution:pin", failed_id)
    assert failed["error"]["nodeId"] == "fn"
    assert "bad name boom" in failed["nodes"]["fn"]["error"]["message"]
    assert failed["nodes"]["fn"]["status"] == "error"


async def test_step_value_refuses_unknown_ports_steps_and_sides(backend: Backend, channels: Channels) -> None:
    _response, execution_id = await call_flow(backend, {"flag": False})
    pinned = await channels("execution:pin", execution_id)
    assert pinned["order"] == ["req", "cond", "resp-no"]
    step_id = pinned["nodes"]["cond"]["shownStepId"]
    with pytest.raises(InvalidParamsError, match="no output port 'nope'"):
        await channels("execution:step-value", {"stepId": step_id, "port": "nope"})
    with pytest.raises(InvalidParamsError, match="not a step id"):
        await channels("execution:step-value", {"stepId": "exec_1", "port": "x"})
    with pytest.raises(ExecutionNotFoundError):
        await channels("execution:step-value", {"stepId": step_id.rsplit("_", 1)[0] + "_999"})
    with pytest.raises(ExecutionNotFoundError):
        await channels("execution:pin", "exec_nope")
    whole = await channels("execution:step-value", {"stepId": step_id})
    assert whole["value"]["onfalse"] is True


async def test_the_admin_routes_answer_as_the_channels(backend: Backend, channels: Channels) -> None:
    _response, execution_id = await call_flow(
        backend, {"flag": True, "name": "Web", "items": ITEMS, "waitMs": 0}
    )
    admin = {"Authorization": f"Bearer {backend.spec.admin_token}"}
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}", headers=admin) as http:
        pinned = await (await http.get(f"/executions/{execution_id}/pin")).json()
        assert pinned == await channels("execution:pin", execution_id)
        step_id = pinned["nodes"]["fn"]["shownStepId"]
        value = await http.get(
            f"/executions/{execution_id}/steps/{step_id}/input", params={"port": "in-name"}
        )
        assert (await value.json())["value"] == "Web"
        wrong = await http.get(f"/executions/exec_other/steps/{step_id}/input")
        assert wrong.status == 400
        assert (await http.get("/executions/exec_nope/pin")).status == 404
        assert (
            await http.get(f"/executions/{execution_id}/pin", headers={"Authorization": "Bearer no"})
        ).status == 401


async def test_a_payload_the_history_cut_at_record_time_is_shown_as_cut(
    backend: Backend, channels: Channels
) -> None:
    huge = "y" * 60_000  # over the history's 50 kB per stored payload
    _response, execution_id = await call_flow(backend, {"flag": True, "name": huge, "items": [], "waitMs": 0})
    fn = (await channels("execution:pin", execution_id))["nodes"]["fn"]
    assert fn["inputs"] == {}
    assert fn["inputsTruncated"]["size"] > 60_000
    assert len(fn["inputsTruncated"]["preview"]) <= 200
    full = await channels(
        "execution:step-value", {"stepId": fn["shownStepId"], "side": "input", "port": "in-name"}
    )
    assert full["truncatedAtRecord"] is True
    assert full["originalSize"] == fn["inputsTruncated"]["size"]
    assert full["size"] < 2_000  # the marker the history kept, not the 60 kB value


@pytest.mark.parametrize(
    ("function", "body"),
    [
        ("f", {"flag": True, "name": "Ada", "items": ITEMS, "waitMs": 1}),
        ("g", {"flag": True, "name": "Ada", "items": ITEMS, "waitMs": 0, "failUntil": 3}),
    ],
)
async def test_pin_reads_only_the_payloads_it_shows_and_answers_as_from_full_rows(
    backend: Backend, channels: Channels, function: str, body: dict[str, object]
) -> None:
    """The channel reads the steps without payloads, then the shown runs' payloads; For Each items
    (with a failed one), Retry attempts and child runs come out as the overlay of the full rows."""
    from sidecar.backends import functions
    from sidecar.debugging import service
    from sidecar.debugging.pin import pin_execution

    _response, execution_id = await functions.invoke_recorded(backend, function, json.dumps(body), {})
    assert execution_id is not None

    pinned = await channels("execution:pin", execution_id)
    full = await backend.history.execution_rows(execution_id)
    assert full is not None
    places = service._child_places(backend, function)
    expected = pin_execution(full[0], full[1], places)

    assert {key: value for key, value in pinned.items() if key != "backendId"} == expected
    light = await backend.history.light_view(execution_id, lambda _execution, steps, _payloads: steps())
    assert light is not None
    assert all(step.input_data is None for step in light if step.node_type not in OWNERS)
    assert any(step.input_data is not None for step in light if step.node_type in OWNERS)
    assert any(run.get("path") for node in pinned["nodes"].values() for run in node["runs"])


async def test_a_kept_overlay_is_never_answered_for_a_deleted_execution(
    backend: Backend, channels: Channels
) -> None:
    _response, execution_id = await call_flow(backend, {"flag": False})
    first = await channels("execution:pin", execution_id)
    again = await channels("execution:pin", execution_id)
    assert again == first

    await backend.history.delete(execution_id)

    with pytest.raises(ExecutionNotFoundError):
        await channels("execution:pin", execution_id)


async def test_pin_does_not_decode_large_for_each_items(backend: Backend, channels: Channels) -> None:
    """Items of ~50 kB: the light rows carry only the key naming each child, and the overlay still
    lists every item's run with its path."""
    big = [{"n": i + 1, "blob": "y" * 50_000} for i in range(3)]
    _response, execution_id = await call_flow(
        backend, {"flag": True, "name": "Ada", "items": big, "waitMs": 0}
    )

    light = await backend.history.light_view(execution_id, lambda _execution, steps, _payloads: steps())
    pinned = await channels("execution:pin", execution_id)

    assert light is not None
    loop_inputs = [
        step.input_data for step in light if step.node_type == "Workflow For Each" and step.input_data
    ]
    assert loop_inputs
    assert all(len(str(data)) < 200 for data in loop_inputs)
    paths = [run["path"] for run in pinned["nodes"]["loop"]["runs"] if "path" in run]
    assert paths == [["loop", "item[0]"], ["loop", "item[1]"], ["loop", "item[2]"]]
