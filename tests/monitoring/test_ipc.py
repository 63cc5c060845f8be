"""``monitoring:metrics`` over the method table: argument array in, the same answer as ``/admin/metrics``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from ipc_schema.lifecycle import RequestMeta
from sidecar.backends.manager import BackendManager, BackendNotRunningError
from sidecar.ipc.handlers import register_monitoring_methods
from sidecar.ipc.methods import CallContext, MethodTable
from tests.channels import backend_manager
from tests.conftest import PROJECT_ROOT

HELLO = json.loads((PROJECT_ROOT / "examples" / "hello.workflow.json").read_text())


async def call(table: MethodTable, name: str, *args: Any) -> Any:
    bound = table.get(name)
    assert bound is not None, name
    ctx = CallContext(msgid=1, method=name, meta=RequestMeta(), notify=lambda _m, _p: None)
    return bound.dump_result(await bound.handler(ctx, bound.parse_params(list(args))))


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[BackendManager]:
    async with backend_manager(tmp_path) as managed:
        yield managed


async def test_metrics_channel_answers_per_workflow_figures(manager: BackendManager) -> None:
    table = MethodTable()
    register_monitoring_methods(table, manager)
    backend_id = str(manager.create("Mon")["id"])
    with pytest.raises(BackendNotRunningError, match=r"^Backend must be running to read its metrics$"):
        await call(table, "monitoring:metrics", {"backendId": backend_id})
    await manager.start(backend_id)
    backend = manager.running(backend_id, "test")
    admin = {"Authorization": f"Bearer {backend.spec.admin_token}"}
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as http:
        assert (await http.put("/admin/workflows/hello", json=HELLO, headers=admin)).status == 200
        for _ in range(4):
            reply = await http.post(
                "/functions/hello", json={"name": "I"}, headers={"X-Parse-Application-Id": backend_id}
            )
            assert reply.status == 200
    answer = await call(
        table, "monitoring:metrics", {"backendId": backend_id, "bucket": "day", "groupBy": ["workflowId"]}
    )
    assert [(s["workflowId"], s["runs"]) for s in answer["series"]] == [("hello", 4)]
    assert "triggerType" not in answer["series"][0]
    with pytest.raises(ValidationError):  # the argument array's model refuses it; the session answers -32602
        await call(table, "monitoring:metrics", {"backendId": backend_id, "bucket": "week"})
