"""One language per workflow: the deploy rule with node ids, the library per language, history's language."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sidecar.backends.backend import Backend, BackendSpec
from sidecar.runtime.library import node_library
from tests.runtime.graphs import component, conn, export, function_node, node, request_node, response_node

TOKEN = "admin-token-for-language-tests-01"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
APP = {"X-Parse-Application-Id": "backend_lang1"}


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[Backend]:
    served = Backend(BackendSpec(data_dir=tmp_path, backend_id="backend_lang1", name="L", admin_token=TOKEN))
    await served.start()
    yield served
    await served.stop()


@pytest.fixture
async def http(backend: Backend) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as session:
        yield session


async def deploy(http: aiohttp.ClientSession, bundle: dict[str, Any]) -> tuple[int, Any]:
    response = await http.put("/admin/workflows/b", json=bundle, headers=ADMIN)
    return response.status, json.loads(await response.text())


def python_function(node_id: str = "py") -> dict[str, Any]:
    ports = [
        {"name": "out-v", "plug": "output", "type": "*"},
        {"name": "out-done", "plug": "output", "type": "signal"},
    ]
    script = "outputs['v'] = inputs['x'] * 2\nsend_signal('done')\n"
    return node(node_id, "PythonFunction", {"script": script}, ports=ports)


def doubling(name: str, language: str | None, code: dict[str, Any]) -> dict[str, Any]:
    """Function ``name``: the request's ``x`` into the code node ``code``; its ``v`` is the answer."""
    code_id = code["id"]
    done, value = ("out-done", "out-v") if code["type"] == "PythonFunction" else ("out-Done", "out-v")
    made = component(
        name,
        [request_node(), code, response_node()],
        [
            conn("req", "pm-x", code_id, "in-x"),
            conn("req", "receive", code_id, "run"),
            conn(code_id, value, "resp", "pm-v"),
            conn(code_id, done, "resp", "send"),
        ],
    )
    if language is not None:
        made["metadata"] = {"language": language}
    return made


def js_function() -> dict[str, Any]:
    return function_node("Outputs.v = Inputs.x * 2; Outputs.Done();", outputs=("v",))


async def test_a_python_node_in_a_javascript_workflow_is_refused_with_its_node_id(
    http: aiohttp.ClientSession,
) -> None:
    bundle = export(doubling("f", None, python_function()))  # no language: JavaScript

    status, refused = await deploy(http, bundle)

    assert status == 400
    assert [(p["componentName"], p["nodeId"]) for p in refused["problems"]] == [("/#__cloud__/f", "py")]
    assert (
        "'PythonFunction' node is Python code in a JavaScript workflow" in refused["problems"][0]["problem"]
    )


async def test_javascript_nodes_in_a_python_workflow_are_refused_each_by_id(
    http: aiohttp.ClientSession,
) -> None:
    workflow = doubling("f", "python", python_function())
    workflow["nodes"].append(node("ex", "Expression", {"expression": "a + 1"}))
    workflow["nodes"].append(js_function())

    status, refused = await deploy(http, export(workflow))

    assert status == 400
    assert sorted(p["nodeId"] for p in refused["problems"]) == ["ex", "fn"]
    assert all("JavaScript code in a Python workflow" in p["problem"] for p in refused["problems"])


async def test_an_unknown_language_is_refused(http: aiohttp.ClientSession) -> None:
    status, refused = await deploy(http, export(doubling("f", "ruby", js_function())))

    assert status == 400
    assert refused["problems"][0]["nodeId"] is None
    assert refused["problems"][0]["problem"].startswith("unknown language 'ruby'")


async def test_an_instance_of_a_component_of_the_other_language_is_refused(
    http: aiohttp.ClientSession,
) -> None:
    helper = component("helper", [python_function()], [])
    helper["metadata"] = {"language": "python"}
    workflow = doubling("f", None, js_function())
    workflow["nodes"].append(node("inst", "/#__cloud__/helper"))

    status, refused = await deploy(http, export(workflow, helper))

    assert status == 400
    assert [p["nodeId"] for p in refused["problems"]] == ["inst"]


async def test_each_run_records_its_workflows_language(backend: Backend, http: aiohttp.ClientSession) -> None:
    bundle = export(doubling("pyf", "python", python_function()), doubling("jsf", None, js_function()))
    assert (await deploy(http, bundle))[0] == 200

    for name in ("pyf", "jsf"):
        response = await http.post(f"/functions/{name}", json={"x": 21}, headers=APP)
        assert (response.status, await response.json()) == (200, {"result": {"v": 42}})

    assert backend.history is not None
    for name, language in (("pyf", "python"), ("jsf", "javascript")):
        rows = (await backend.history.list_executions({"workflowId": name}))["executions"]
        assert [row["metadata"]["language"] for row in rows] == [language]


async def test_the_export_metadata_sets_the_language_of_every_workflow(http: aiohttp.ClientSession) -> None:
    bundle = export(doubling("f", None, python_function()), metadata={"language": "python"})

    status, _ = await deploy(http, bundle)

    assert status == 200
    response = await http.post("/functions/f", json={"x": 5}, headers=APP)
    assert await response.json() == {"result": {"v": 10}}


def test_the_node_library_is_asked_per_language() -> None:
    everything = {entry["name"] for entry in node_library()}
    python = {entry["name"] for entry in node_library("python")}
    javascript = {entry["name"] for entry in node_library("javascript")}

    assert {"PythonFunction", "PythonExpression", "PythonTemplate"} <= python
    assert not {"JavaScriptFunction", "Expression", "REST2"} & python
    assert {"JavaScriptFunction", "Expression", "REST2"} <= javascript
    assert not {"PythonFunction", "PythonListTransform"} & javascript
    shared = {"noodl.cloud.request", "noodl.cloud.response", "DbCollection2"}
    assert shared <= python & javascript
    assert python | javascript == everything
