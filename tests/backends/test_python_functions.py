"""A backend runs Python Function nodes in its own worker pool: over HTTP, in its scratch folder."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sidecar.backends.backend import Backend, BackendSpec
from tests.runtime.graphs import component, conn, export, node, request_node, response_node

TOKEN = "admin-token-for-python-tests-0123"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
APP = {"X-Parse-Application-Id": "backend_python1"}
SCRIPT = (
    "import os\n"
    "outputs['greeting'] = 'hello ' + inputs['name']\n"
    "outputs['cwd'] = os.getcwd()\n"
    "outputs['env'] = sorted(os.environ)\n"
    "outputs['leaks'] = [k for k, v in os.environ.items() if 'planted' in v]\n"
    "send_signal('done')\n"
)


def python_bundle() -> dict[str, Any]:
    ports = [{"name": f"out-{o}", "plug": "output", "type": "*"} for o in ("greeting", "cwd", "env", "leaks")]
    ports.append({"name": "out-done", "plug": "output", "type": "signal"})
    fn = node("fn", "PythonFunction", {"script": SCRIPT}, ports=ports)
    connections = [
        conn("req", "pm-name", "fn", "in-name"),
        conn("req", "receive", "fn", "run"),
        conn("fn", "out-done", "resp", "send"),
        *(conn("fn", f"out-{o}", "resp", f"pm-{o}") for o in ("greeting", "cwd", "env", "leaks")),
    ]
    workflow = component("f", [request_node(), fn, response_node()], connections)
    workflow["metadata"] = {"language": "python"}  # one language per workflow: a deploy checks it
    return export(workflow)


@pytest.fixture
async def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Backend]:
    monkeypatch.setenv("NOODL_SIDECAR_TOKEN", "planted-admin-token")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "planted-aws-key")
    served = Backend(
        BackendSpec(data_dir=tmp_path, backend_id="backend_python1", name="P", admin_token=TOKEN)
    )
    await served.start()
    yield served
    await served.stop()


async def test_a_deployed_python_function_answers_over_http_from_the_backends_scratch_folder(
    backend: Backend, tmp_path: Path
) -> None:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as http:
        deployed = await http.put("/admin/workflows/py", json=python_bundle(), headers=ADMIN)
        assert deployed.status == 200, await deployed.text()
        response = await http.post("/functions/f", json={"name": "Ada"}, headers=APP)
        status, body = response.status, json.loads(await response.text())

    assert status == 200
    result = body["result"]
    assert result["greeting"] == "hello Ada"
    assert Path(result["cwd"]) == (tmp_path / "python-scratch").resolve()
    assert result["leaks"] == []
    assert not {"NOODL_SIDECAR_TOKEN", "AWS_SECRET_ACCESS_KEY"} & set(result["env"])


async def test_stopping_the_backend_stops_its_python_workers(backend: Backend) -> None:
    assert backend.python is not None
    assert not backend.python.made
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as http:
        await http.put("/admin/workflows/py", json=python_bundle(), headers=ADMIN)
        await http.post("/functions/f", json={"name": "x"}, headers=APP)
    pool = backend.python.get()
    assert pool.started == 1
    workers = list(pool._idle)

    await backend.stop()

    assert pool.closed
    assert all(worker.process.returncode is not None for worker in workers)
