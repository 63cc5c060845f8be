"""Legacy-runtime detection on generated project folders, and read-only projects' backends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sidecar.backends.manager import BackendManager
from sidecar.ipc.handlers import register_backend_methods
from tests.channels import Channels, backend_manager
from tests.runtime.graphs import component, conn, export, request_node, response_node


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[BackendManager]:
    async with backend_manager(tmp_path / "home" / "backends") as managed:
        yield managed


def _node(node_id: str, kind: str, parameters: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "parameters": parameters or {}, "ports": [], "children": [], **extra}


def _write_project(folder: Path, version: Any, components: list[dict[str, Any]], **extra: Any) -> Path:
    folder.mkdir(parents=True)
    project = {"name": folder.name, "components": components, "settings": {}, **extra}
    if version is not None:
        project["version"] = version
    (folder / "project.json").write_text(json.dumps(project), encoding="utf-8")
    return folder


def _cloud(name: str, *kinds: str) -> dict[str, Any]:
    roots = [_node(f"n{index}", kind) for index, kind in enumerate(kinds)]
    return {"name": f"/#__cloud__/{name}", "graph": {"roots": roots, "connections": []}}


def _page(*roots: dict[str, Any]) -> dict[str, Any]:
    return {"name": "/App", "graph": {"roots": list(roots), "connections": []}}


def legacy_project(root: Path) -> Path:
    """An older editor's project: version "2", a Group and a Text the editor rewrites on open."""
    old_text = _node("t", "Text", {"textAlign": "center"})
    old_group = _node("g", "Group", {"scrollBehavior": "native"}, children=[old_text])
    return _write_project(root / "legacy", "2", [_page(old_group), _cloud("hello", "noodl.cloud.request")])


def current_project(root: Path) -> Path:
    fine = _node("g", "Group", {"scrollEnabled": True}, children=[_node("t", "Text", {"textAlignX": "left"})])
    cloud = _cloud("sum", "noodl.cloud.request", "Expression", "noodl.cloud.response")
    return _write_project(root / "current", "4", [_page(fine), cloud], id="project-current-1")


def newer_project(root: Path) -> Path:
    return _write_project(root / "newer", 5, [_page(_node("g", "Group"))])


def current_with_unknown_nodes(root: Path) -> Path:
    cloud = _cloud("mail", "noodl.cloud.request", "net.noodl.SendGridEmail", "net.noodl.SendGridEmail")
    return _write_project(root / "unknown-nodes", "4", [cloud])


async def test_three_generations_and_missing_node_types(manager: BackendManager, tmp_path: Path) -> None:
    channels = Channels(register_backend_methods, manager)

    legacy = await channels("project:inspect", str(legacy_project(tmp_path)))
    assert (legacy["generation"], legacy["projectVersion"], legacy["currentVersion"]) == ("legacy", 2, 4)
    assert legacy["readOnlyAdvised"] is True
    assert {(c["type"], c["count"]) for c in legacy["changedNodeTypes"]} == {("Group", 1), ("Text", 1)}
    assert legacy["missingNodeTypes"] == []
    assert legacy["cloudFunctions"] == 1
    assert legacy["readOnly"] is None

    current = await channels("project:inspect", str(current_project(tmp_path)))
    assert (current["generation"], current["readOnlyAdvised"], current["reasons"]) == ("current", False, [])
    assert current["projectId"] == "project-current-1"
    assert (current["missingNodeTypes"], current["changedNodeTypes"]) == ([], [])

    newer = await channels("project:inspect", str(newer_project(tmp_path)))
    assert (newer["generation"], newer["readOnlyAdvised"]) == ("newer", True)
    assert "newer editor" in newer["reasons"][0]

    unknown = await channels("project:inspect", str(current_with_unknown_nodes(tmp_path)))
    assert unknown["generation"] == "current"
    assert unknown["readOnlyAdvised"] is True
    assert unknown["missingNodeTypes"] == [
        {"type": "net.noodl.SendGridEmail", "count": 2, "components": ["/#__cloud__/mail"]}
    ]

    with pytest.raises(Exception, match=r"no project\.json"):
        await channels("project:inspect", str(tmp_path / "nowhere"))
    (tmp_path / "garbled").mkdir()
    (tmp_path / "garbled" / "project.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(Exception, match="cannot read"):
        await channels("project:inspect", str(tmp_path / "garbled"))


def _function() -> dict[str, Any]:
    respond = response_node(**{"pm-v": "x"})
    return export(component("f", [request_node(), respond], [conn("req", "receive", "resp", "send")]))


async def test_a_read_only_project_s_backend_refuses_deploys_and_schema_changes(
    manager: BackendManager, tmp_path: Path
) -> None:
    channels = Channels(register_backend_methods, manager)
    folder = legacy_project(tmp_path)
    backend_id = str(manager.create("Legacy")["id"])
    await manager.start(backend_id, ephemeral=True)
    inspected = await channels("project:inspect", str(folder))
    await channels("backend:link-project", backend_id, inspected["projectId"])

    recorded = await channels("project:set-read-only", str(folder), True)
    assert (recorded["projectId"], recorded["readOnly"]) == (inspected["projectId"], True)
    assert (await channels("project:inspect", str(folder)))["readOnly"] is True
    table = {"name": "Todo", "columns": [{"name": "title", "type": "String"}]}
    deploy = {"backendId": backend_id, "name": "f", "workflow": _function()}
    for call in (
        channels("backend:createTable", backend_id, table),
        channels("backend:update-workflow", deploy),
        channels("backend:deleteTable", backend_id, "Todo"),
    ):
        with pytest.raises(Exception, match="open read-only") as refused:
            await call
        assert refused.value.data["code"] == "PROJECT_READ_ONLY"  # type: ignore[attr-defined]
    # Records and reads still work: read-only concerns the project's structure and deploys.
    await channels("backend:createRecord", backend_id, "Note", {"text": "still fine"})

    await channels("project:set-read-only", str(folder), False)
    assert (await channels("backend:createTable", backend_id, table))["created"] is True
    assert (await channels("backend:update-workflow", deploy))["success"] is True
    stored = json.loads((tmp_path / "home" / "projects.json").read_text(encoding="utf-8"))
    assert stored["projects"][inspected["projectId"]]["readOnly"] is False


async def test_the_http_admin_door_refuses_too(manager: BackendManager, tmp_path: Path) -> None:
    channels = Channels(register_backend_methods, manager)
    folder = current_project(tmp_path)
    backend_id = str(manager.create("Door")["id"])
    status = await manager.start(backend_id, ephemeral=True)
    await channels("backend:link-project", backend_id, "project-current-1")
    await channels("project:set-read-only", str(folder), True)
    token = manager.running(backend_id, "test").spec.admin_token
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base_url=status["endpoint"], headers=headers) as session:
        for method, route, body in (
            ("POST", "/admin/schema", {"action": "createTable", "table": "T", "columns": []}),
            ("PUT", "/admin/workflows/f", _function()),
        ):
            async with session.request(method, route, json=body) as refused:
                assert refused.status == 409
                assert "open read-only" in (await refused.json())["error"]
        await channels("project:set-read-only", str(folder), False)
        async with session.put("/admin/workflows/f", json=_function()) as deployed:
            assert deployed.status == 200
