"""Custom Python node packs: discovered in a worker, listed, run in graphs, reloaded, broken ones reported."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ipc_schema.python import PythonNodes
from sidecar.backends.manager import BackendManager
from sidecar.backends.python_packs import PythonPacks
from sidecar.backends.workflows import DeployRefusedError
from sidecar.ipc.handlers import register_python_methods
from sidecar.python_runtime import PoolLimits, PythonPool
from sidecar.runtime import Runtime, make_request
from tests.channels import Channels, backend_manager
from tests.runtime.graphs import component, conn, export, node, request_node, response_node

REVERSE = '''
import noodl

@noodl.node(
    name="text.reverse",
    display_name="Reverse Text",
    category="Text Tools",
    inputs={"text": str, "times": noodl.Port(int, default=1, display_name="Times")},
    outputs={"reversed": str, "length": int, "done": "signal"},
)
async def reverse(inputs):
    """Reverses the text, `times` times over."""
    text = inputs["text"] or ""
    for _ in range(inputs["times"] or 1):
        text = text[::-1]
    print("reversed", len(text), "characters")
    return {"reversed": text, "length": len(text), "done": True}
'''

SHOUT = """
import noodl

@noodl.node
class Shout:
    name = "text.shout"
    category = "Text Tools"
    docs = "Upper-cases the text."
    inputs = {"text": str}
    outputs = {"loud": str, "done": "signal"}

    async def execute(self, inputs):
        return {"loud": inputs["text"].upper() + "!", "done": True}
"""


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[PythonPool]:
    made = PythonPool(tmp_path / "scratch", size=2, limits=PoolLimits(cpu_seconds=2, wall_seconds=20))
    try:
        yield made
    finally:
        await made.close()


def write(folder: Path, name: str, source: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(source))
    # A second write in the same clock tick must still count as a change.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000 * (1 + len(source) % 7)))


def uses(
    node_type: str, inputs: dict[str, str], outputs: dict[str, str], done: str = "done"
) -> dict[str, Any]:
    """Function ``f``: request parameters into a node of ``node_type``, its outputs into the Response."""
    connections = [conn("req", f"pm-{name}", "n", port) for name, port in inputs.items()]
    connections += [conn("n", port, "resp", f"pm-{name}") for name, port in outputs.items()]
    connections.append(conn("n", done, "resp", "send"))
    return export(component("f", [request_node(), node("n", node_type), response_node()], connections))


async def run(packs: PythonPacks, graph: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any]:
    runtime = Runtime.from_export(graph, python=packs.pool, node_types=packs.node_types, timeout_seconds=20.0)
    response = await runtime.run("f", make_request(body))
    return response.status_code, json.loads(response.body)


async def test_packs_are_discovered_in_a_worker_and_listed_with_category_and_docs(
    tmp_path: Path, pool: PythonPool
) -> None:
    folder = tmp_path / "python"
    write(folder, "reverse.py", REVERSE)
    write(folder, "shout.py", SHOUT)
    packs = PythonPacks(folder, pool)
    imported_before = set(sys.modules)

    assert await packs.refresh() is True

    assert pool.started == 1  # discovery imported the packs in a worker ...
    assert not any(
        name.startswith("noodl_pack") for name in set(sys.modules) - imported_before
    )  # ... not here
    listing = PythonNodes.model_validate(packs.listing()).to_wire()
    assert listing["problems"] == []
    by_name = {entry["name"]: entry for entry in listing["nodes"]}
    assert set(by_name) == {"text.reverse", "text.shout"}
    reverse = by_name["text.reverse"]
    assert (reverse["displayNodeName"], reverse["category"], reverse["file"]) == (
        "Reverse Text",
        "Text Tools",
        "reverse.py",
    )
    assert reverse["docs"] == "Reverses the text, `times` times over."
    ports = {(port["name"], port["plug"], str(port["type"])) for port in reverse["ports"]}
    assert {
        ("text", "input", "string"),
        ("times", "input", "number"),
        ("run", "input", "signal"),
        ("reversed", "output", "string"),
        ("done", "output", "signal"),
    } <= ports
    assert by_name["text.shout"]["docs"] == "Upper-cases the text."


async def test_a_pack_node_runs_in_a_graph_through_the_worker(tmp_path: Path, pool: PythonPool) -> None:
    folder = tmp_path / "python"
    write(folder, "reverse.py", REVERSE)
    write(folder, "shout.py", SHOUT)
    packs = PythonPacks(folder, pool)
    await packs.refresh()

    reversed_ = await run(
        packs, uses("text.reverse", {"text": "text"}, {"r": "reversed", "n": "length"}), {"text": "abc"}
    )
    shouted = await run(packs, uses("text.shout", {"text": "text"}, {"loud": "loud"}), {"text": "hey"})

    assert reversed_ == (200, {"result": {"r": "cba", "n": 3}})
    assert shouted == (200, {"result": {"loud": "HEY!"}})


async def test_a_broken_pack_is_reported_and_the_others_still_load(tmp_path: Path, pool: PythonPool) -> None:
    folder = tmp_path / "python"
    write(folder, "reverse.py", REVERSE)
    write(folder, "broken.py", "import noodl\nraise RuntimeError('this pack is broken')\n")
    write(folder, "sync.py", "import noodl\n@noodl.node(name='not.async')\ndef f(inputs):\n    return {}\n")
    write(
        folder,
        "badtype.py",
        "import noodl\n@noodl.node(name='bad.type', inputs={'x': set})\nasync def f(i):\n    return {}\n",
    )
    packs = PythonPacks(folder, pool)

    await packs.refresh()

    listing = packs.listing()
    assert [entry["name"] for entry in listing["nodes"]] == ["text.reverse"]
    problems = {problem["file"]: problem["error"] for problem in listing["problems"]}
    assert set(problems) == {"broken.py", "sync.py", "badtype.py"}
    assert problems["broken.py"].endswith("RuntimeError: this pack is broken")
    assert 'broken.py", line 2' in problems["broken.py"]  # the traceback points into the pack
    assert "execute must be an async def" in problems["sync.py"]
    assert "unknown port type" in problems["badtype.py"]
    status, body = await run(packs, uses("text.reverse", {"text": "text"}, {"r": "reversed"}), {"text": "ok"})
    assert (status, body) == (200, {"result": {"r": "ko"}})


async def test_a_changed_pack_is_reloaded_without_a_new_runtime(tmp_path: Path, pool: PythonPool) -> None:
    folder = tmp_path / "python"
    write(folder, "shout.py", SHOUT)
    packs = PythonPacks(folder, pool)
    await packs.refresh()
    graph = uses("text.shout", {"text": "text"}, {"loud": "loud"})
    runtime = Runtime.from_export(graph, python=pool, node_types=packs.node_types, timeout_seconds=20.0)
    first = await runtime.run("f", make_request({"text": "a"}))

    write(folder, "shout.py", SHOUT.replace('+ "!"', '+ "?!"'))
    write(folder, "extra.py", REVERSE)
    assert await packs.refresh() is True
    second = await runtime.run("f", make_request({"text": "a"}))

    assert (first.body, second.body) == ('{"result":{"loud":"A!"}}', '{"result":{"loud":"A?!"}}')
    assert {entry["name"] for entry in packs.listing()["nodes"]} == {"text.shout", "text.reverse"}
    assert await packs.refresh() is False  # nothing changed since: no discovery

    (folder / "extra.py").unlink()
    await packs.refresh()
    assert "text.reverse" not in packs.node_types


async def test_a_pack_may_not_take_a_built_in_node_name(tmp_path: Path, pool: PythonPool) -> None:
    folder = tmp_path / "python"
    write(
        folder, "clash.py", "import noodl\n@noodl.node(name='Expression')\nasync def f(i):\n    return {}\n"
    )
    packs = PythonPacks(folder, pool)

    await packs.refresh()

    assert packs.listing() == {
        "nodes": [],
        "problems": [{"file": "clash.py", "error": "'Expression' is a built-in node type"}],
    }


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[BackendManager]:
    async with backend_manager(tmp_path) as managed:
        yield managed


async def test_a_backend_lists_its_packs_over_the_channel_and_reloads_them(manager: BackendManager) -> None:
    channels = Channels(register_python_methods, manager)
    backend_id = str(manager.create("Packs")["id"])
    folder = manager.registry.data_dir(backend_id) / "python"
    write(folder, "shout.py", SHOUT)
    await manager.start(backend_id, ephemeral=False)

    listed = await channels("python:nodes", backend_id)
    write(folder, "broken.py", "def broken(:\n")
    relisted = await channels("python:nodes", backend_id)

    assert [entry["name"] for entry in listed["nodes"]] == ["text.shout"]
    assert listed["problems"] == []
    assert [entry["name"] for entry in relisted["nodes"]] == ["text.shout"]
    assert [problem["file"] for problem in relisted["problems"]] == ["broken.py"]
    assert "SyntaxError" in relisted["problems"][0]["error"]


async def test_the_watcher_picks_up_a_new_pack_by_itself(tmp_path: Path, pool: PythonPool) -> None:
    folder = tmp_path / "python"
    packs = PythonPacks(folder, pool)
    await packs.refresh()
    packs.start_watching(interval=0.05)
    try:
        write(folder, "shout.py", SHOUT)
        for _ in range(200):
            if "text.shout" in packs.node_types:
                break
            await asyncio.sleep(0.05)
    finally:
        await packs.close()

    assert "text.shout" in packs.node_types


async def test_a_backend_deploys_and_serves_a_workflow_of_pack_nodes(manager: BackendManager) -> None:
    backend_id = str(manager.create("Served")["id"])
    folder = manager.registry.data_dir(backend_id) / "python"
    write(folder, "shout.py", SHOUT)
    await manager.start(backend_id, ephemeral=False)
    backend = manager.running(backend_id, "test")
    assert backend.workflows is not None
    python_workflow = uses("text.shout", {"text": "text"}, {"loud": "loud"})
    python_workflow["metadata"] = {"language": "python"}
    javascript_workflow = uses("text.shout", {"text": "text"}, {"loud": "loud"})

    with pytest.raises(DeployRefusedError) as refused:
        backend.workflows.deploy("b", javascript_workflow)
    backend.workflows.deploy("b", python_workflow)
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"http://127.0.0.1:{backend.port}/functions/f",
            json={"text": "served"},
            headers={"X-Parse-Application-Id": backend_id},
        )
        answered = await response.json()

    assert [
        (p["nodeId"], "Python code in a JavaScript workflow" in p["problem"]) for p in refused.value.problems
    ] == [("n", True)]
    assert (response.status, answered) == (200, {"result": {"loud": "SERVED!"}})
