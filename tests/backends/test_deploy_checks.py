"""Deploys are checked before they replace anything, and kept as versions one can roll back to.

Over HTTP (``PUT /admin/workflows/:name``, ``GET /admin/workflows/versions``,
``POST /admin/workflows/versions/:v/rollback``) and over the method table (``backend:update-workflow``,
``backend:workflow-versions``, ``backend:rollback-workflow``), on a real backend.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sidecar.backends.backend import Backend, BackendSpec
from sidecar.backends.manager import BackendManager
from sidecar.backends.workflow_versions import content_hash
from sidecar.backends.workflows import WorkflowSet
from sidecar.ipc.handlers import register_backend_methods
from tests.channels import Channels, backend_manager
from tests.conftest import PROJECT_ROOT
from tests.runtime.conftest import CONFORMANCE_DIR
from tests.runtime.graphs import component, conn, export, function_node, node, request_node, response_node

TOKEN = "admin-token-for-deploy-tests-0123"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
APP = {"X-Parse-Application-Id": "backend_deploy1"}
HELLO: dict[str, Any] = json.loads((PROJECT_ROOT / "examples" / "hello.workflow.json").read_text())


def answering(value: str) -> dict[str, Any]:
    """Function ``f`` answering ``{"result": {"v": value}}``."""
    respond = response_node(**{"pm-v": value})
    return export(component("f", [request_node(), respond], [conn("req", "receive", "resp", "send")]))


def broken() -> dict[str, Any]:
    """What the issue saw accepted: an unknown node type and no Request node."""
    return export(
        component("f", [node("sw", "Switch"), response_node()], [conn("sw", "out", "resp", "send")])
    )


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[Backend]:
    served = Backend(
        BackendSpec(data_dir=tmp_path, backend_id="backend_deploy1", name="D", admin_token=TOKEN)
    )
    await served.start()
    yield served
    await served.stop()


@pytest.fixture
async def http(backend: Backend) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as session:
        yield session


async def answer(response: aiohttp.ClientResponse) -> tuple[int, Any]:
    return response.status, json.loads(await response.text())


async def deploy(http: aiohttp.ClientSession, bundle: dict[str, Any], name: str = "b") -> tuple[int, Any]:
    return await answer(await http.put(f"/admin/workflows/{name}", json=bundle, headers=ADMIN))


async def call_f(http: aiohttp.ClientSession) -> tuple[int, Any]:
    return await answer(await http.post("/functions/f", json={}, headers=APP))


# ---- refused deploys ------------------------------------------------------------------------------


async def test_a_broken_export_is_refused_with_node_problems_and_the_old_bundle_keeps_serving(
    http: aiohttp.ClientSession,
) -> None:
    assert (await deploy(http, answering("old")))[0] == 200

    status, refused = await deploy(http, broken())

    assert (status, refused["success"]) == (400, False)
    assert refused["problems"] == [
        {
            "nodeId": None,
            "componentName": "/#__cloud__/f",
            "problem": "function 'f' has no Request node, so every call would fail",
        },
        {
            "nodeId": "sw",
            "componentName": "/#__cloud__/f",
            "problem": "unknown node type 'Switch': the runtime has no such node",
        },
    ]
    assert "deploy refused, 2 problems" in refused["error"]
    assert await call_f(http) == (200, {"result": {"v": "old"}})
    status, workflows = await answer(await http.get("/admin/workflows", headers=ADMIN))
    assert workflows["functions"] == [{"name": "f", "workflow": "b"}]


async def test_connections_to_missing_nodes_and_ports_are_named_by_node(http: aiohttp.ClientSession) -> None:
    nodes = [request_node(), response_node()]
    connections = [
        conn("req", "receive", "resp", "send"),
        conn("req", "receive", "ghost", "run"),  # no such node
        conn("req", "nope", "resp", "pm-x"),  # a Request node has no output "nope"
        conn("req", "receive", "resp", "sendd"),  # a Response node has no input "sendd"
    ]

    status, refused = await deploy(http, export(component("f", nodes, connections)))

    assert status == 400
    assert [(p["nodeId"], p["problem"]) for p in refused["problems"]] == [
        ("req", "connection req.receive → ghost.run: no node 'ghost' in this component"),
        ("req", "connection req.nope → resp.pm-x: a 'noodl.cloud.request' node has no output 'nope'"),
        ("resp", "connection req.receive → resp.sendd: a 'noodl.cloud.response' node has no input 'sendd'"),
    ]


async def test_scripts_and_expressions_that_do_not_compile_are_named_by_node(
    http: aiohttp.ClientSession,
) -> None:
    nodes = [
        request_node(),
        node("expr", "Expression", {"expression": "a +* b"}),
        function_node("Outputs.v = ;"),
        node("rest", "REST2", {"requestScript": "if ("}),
        node("blank", "Expression", {"expression": ""}),  # not filled in yet: no problem
        response_node(),
    ]

    status, refused = await deploy(
        http, export(component("f", nodes, [conn("req", "receive", "resp", "send")]))
    )

    assert status == 400
    found = {(p["nodeId"], p["problem"].split(":")[0]) for p in refused["problems"]}
    assert found == {
        ("expr", "the expression does not compile"),
        ("fn", "the script does not compile"),
        ("rest", "the request script does not compile"),
    }
    assert all("SyntaxError" in p["problem"] for p in refused["problems"])


async def test_building_blocks_need_no_request_node_and_real_library_nodes_pass(
    http: aiohttp.ClientSession,
) -> None:
    helper = component(
        "lib/Echo",
        [node("ci", "Component Inputs"), node("co", "Component Outputs"), node("cc", "Component Children")],
        [],
    )
    template = component("lib/Task", [], [])
    main = component(
        "f",
        [
            request_node(),
            node("echo", "/#__cloud__/lib/Echo"),
            node("tasks", "RunTasks", {"taskTemplate": "/#__cloud__/lib/Task"}),
            response_node(),
        ],
        [conn("req", "receive", "resp", "send")],
    )

    status, deployed = await deploy(http, export(main, helper, template))

    assert (status, deployed["success"]) == (200, True), deployed


async def test_every_public_conformance_export_and_example_deploys(http: aiohttp.ClientSession) -> None:
    exports = sorted((CONFORMANCE_DIR / "exports").glob("*.export.json"))
    exports += sorted((PROJECT_ROOT / "examples").glob("*.workflow.json"))
    for index, path in enumerate(exports):
        status, deployed = await deploy(http, json.loads(path.read_text()), f"w{index}")
        assert (status, deployed["success"]) == (200, True), (path.name, deployed)


# ---- versions and rollback ------------------------------------------------------------------------


async def test_versions_are_listed_and_a_rollback_serves_the_old_version(http: aiohttp.ClientSession) -> None:
    first = (await deploy(http, answering("one")))[1]["version"]
    second = (await deploy(http, answering("two")))[1]["version"]
    assert await call_f(http) == (200, {"result": {"v": "two"}})

    status, listed = await answer(await http.get("/admin/workflows/versions", headers=ADMIN))

    assert status == 200
    assert [(v["version"], v["workflow"], v["active"]) for v in listed["versions"]] == [
        (second["version"], "b", True),
        (first["version"], "b", False),
    ]
    assert first["hash"] == content_hash(answering("one")) != second["hash"]
    assert first["functions"] == ["f"]
    assert second["deployedAt"] >= first["deployedAt"] > 0

    status, rolled = await answer(
        await http.post(f"/admin/workflows/versions/{first['version']}/rollback", headers=ADMIN)
    )

    assert (status, rolled["success"]) == (200, True)
    assert (rolled["version"]["rollbackOf"], rolled["version"]["hash"]) == (first["version"], first["hash"])
    assert await call_f(http) == (200, {"result": {"v": "one"}})
    listed = (await answer(await http.get("/admin/workflows/versions", headers=ADMIN)))[1]["versions"]
    assert [v["active"] for v in listed] == [True, False, False]


async def test_redeploying_the_same_content_adds_no_version(http: aiohttp.ClientSession) -> None:
    first = (await deploy(http, answering("same")))[1]["version"]
    reordered = json.loads(json.dumps(answering("same"), sort_keys=True))  # same content, other key order

    again = (await deploy(http, reordered))[1]["version"]

    assert again["version"] == first["version"]
    listed = (await answer(await http.get("/admin/workflows/versions", headers=ADMIN)))[1]["versions"]
    assert len(listed) == 1


async def test_rolling_back_to_a_version_not_kept_is_404_and_a_bad_number_400(
    http: aiohttp.ClientSession,
) -> None:
    assert (await http.post("/admin/workflows/versions/99/rollback", headers=ADMIN)).status == 404
    assert (await http.post("/admin/workflows/versions/x1/rollback", headers=ADMIN)).status == 400
    assert (await http.get("/admin/workflows/versions")).status == 401


def test_the_last_n_versions_are_kept_with_their_exports(tmp_path: Path) -> None:
    class Plain:
        def __init__(self, data: Any) -> None:
            self.names = [c["name"].split("/")[-1] for c in data["components"]]

        def has_function(self, name: str) -> bool:
            return name in self.names

        def function_names(self) -> list[str]:
            return self.names

        def deploy_problems(self) -> list[Any]:
            return []

    workflows = WorkflowSet(tmp_path / "workflows", Plain, keep_versions=3)
    for value in range(5):
        workflows.deploy("b", answering(str(value)))

    kept = workflows.list_versions()
    assert [v.version for v in kept] == [5, 4, 3]
    stored = sorted(p.name for p in (tmp_path / "workflows" / ".versions").glob("*.export.json"))
    assert stored == ["3.export.json", "4.export.json", "5.export.json"]
    # Read back from disk by a new set (a restarted backend): the same versions, rollback works.
    reopened = WorkflowSet(tmp_path / "workflows", Plain, keep_versions=3)
    reopened.load_all()
    assert [(v.version, v.active) for v in reopened.list_versions()] == [(5, True), (4, False), (3, False)]
    assert reopened.rollback(3).rollback_of == 3
    assert json.loads((tmp_path / "workflows" / "b.workflow.json").read_text()) == answering("2")
    assert [v.version for v in reopened.list_versions()] == [6, 5, 4]


def test_the_default_keeps_ten(tmp_path: Path) -> None:
    workflows = WorkflowSet(tmp_path, lambda data: _Named(), keep_versions=10)
    for value in range(12):
        workflows.deploy("b", {"v": value})
    assert len(workflows.list_versions()) == 10
    assert WorkflowSet(tmp_path / "other", lambda data: _Named()).versions.keep == 10


class _Named:
    def has_function(self, name: str) -> bool:
        return False

    def function_names(self) -> list[str]:
        return []

    def deploy_problems(self) -> list[Any]:
        return []


# ---- the same over the method table ------------------------------------------------------------------


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[BackendManager]:
    async with backend_manager(tmp_path) as managed:
        yield managed


async def test_the_channels_refuse_list_and_roll_back(manager: BackendManager) -> None:
    channels = Channels(register_backend_methods, manager)
    backend_id = str(manager.create("Ipc")["id"])
    await manager.start(backend_id, ephemeral=True)

    def update(bundle: dict[str, Any]) -> dict[str, Any]:
        return {"backendId": backend_id, "name": "b", "workflow": bundle}

    first = await channels("backend:update-workflow", update(answering("one")))
    await channels("backend:update-workflow", update(answering("two")))
    refused = await channels("backend:update-workflow", update(broken()))

    assert (first["success"], first["version"]["version"]) == (True, 1)
    assert refused["success"] is False
    assert {(p["nodeId"], p["componentName"]) for p in refused["problems"]} == {
        (None, "/#__cloud__/f"),
        ("sw", "/#__cloud__/f"),
    }
    listed = await channels("backend:workflow-versions", backend_id)
    assert [(v["version"], v["active"]) for v in listed["versions"]] == [(2, True), (1, False)]
    rolled = await channels("backend:rollback-workflow", backend_id, 1)
    assert (rolled["success"], rolled["version"]["rollbackOf"]) == (True, 1)
    ran = await channels("function:run", backend_id, "f", {"body": {}})
    assert ran == {"statusCode": 200, "body": '{"result":{"v":"one"}}'}
    with pytest.raises(Exception, match="workflow version not found: 42"):
        await channels("backend:rollback-workflow", backend_id, 42)
