"""A running backend with a credential for each vendor, the local vendor server, and graph builders."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sidecar.backends.backend import Backend, BackendSpec
from sidecar.credentials.store import CredentialStore
from tests.ai.vendor_servers import VendorServer, vendor_server
from tests.runtime.graphs import component, conn, export, node, request_node, response_node

ANTHROPIC_KEY = "sk-ant-test-4c1f0e9b7a2d6e3f8b5c"
OPENAI_KEY = "sk-proj-test-9e8d7c6b5a4f3e2d1c0b"
BACKEND_ID = "backend_ai"


@pytest.fixture
async def vendor() -> AsyncIterator[VendorServer]:
    async with vendor_server() as server:
        yield server


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[Backend]:
    """A persistent backend (history on) with credentials ``claude`` and ``gpt``."""
    store = CredentialStore(tmp_path)
    store.create("claude", ANTHROPIC_KEY, "anthropic")
    store.create("gpt", OPENAI_KEY, "openai")
    served = Backend(BackendSpec(data_dir=tmp_path, backend_id=BACKEND_ID, name="AI", admin_token="t" * 32))
    await served.start()
    yield served
    await served.stop()


def one_node_function(
    name: str, node_type: str, parameters: dict[str, Any], inputs: tuple[str, ...], outputs: tuple[str, ...]
) -> dict[str, Any]:
    """Function ``name``: request body fields ``inputs`` feed node ``ai``, run on receive; its ``outputs``
    are the answer, sent on ``done``; on ``failure`` the answer is 400 ``{"error": …}``."""
    connections = [conn("req", f"pm-{i}", "ai", i) for i in inputs]
    connections += [conn("req", "receive", "ai", "run")]
    connections += [conn("ai", o, "resp", f"pm-{o}") for o in outputs]
    connections += [conn("ai", "done", "resp", "send"), conn("ai", "error", "fail", "errorMessage")]
    connections += [conn("ai", "failure", "fail", "send")]
    return export(
        component(
            name,
            [
                request_node(params=",".join(inputs)),
                node("ai", node_type, parameters),
                response_node(params=",".join(outputs)),
                response_node("fail", status="failure"),
            ],
            connections,
        )
    )


async def call(backend: Backend, name: str, body: dict[str, Any]) -> tuple[int, Any, str | None]:
    """Run function ``name``: (status, parsed body, execution id)."""
    from sidecar.backends import functions

    response, execution_id = await functions.invoke_recorded(
        backend, name, json.dumps(body), {"content-type": "application/json"}
    )
    return response.status_code, json.loads(response.body), execution_id


def files_holding(folder: Path, secret: str) -> list[Path]:
    """Every file under ``folder`` whose bytes contain ``secret``."""
    return [path for path in folder.rglob("*") if path.is_file() and secret.encode() in path.read_bytes()]


async def execution_of(backend: Backend, execution_id: str | None) -> dict[str, Any]:
    """The execution as ``execution-history:get`` answers it, once the writer has committed it."""
    assert execution_id is not None
    assert backend.history is not None
    await backend.history.writer.flush()
    found = await backend.history.get_execution(execution_id)
    assert found is not None
    return dict(found)


async def steps_of(backend: Backend, execution_id: str | None) -> list[dict[str, Any]]:
    return list((await execution_of(backend, execution_id))["steps"])
