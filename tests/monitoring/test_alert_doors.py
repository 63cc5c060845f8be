"""Alerts on a real backend: rules and channels managed over ``/admin/alerts`` and ``alerts:*``, saved to
``alerts.json``; a failing function run reaches a signed webhook within 5 s; an invalid ``alerts.json``
refuses the start; bad input is a 400 with Parse code 142 that changes nothing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sidecar.backends.backend import Backend, BackendSpec
from sidecar.backends.manager import BackendManager
from sidecar.credentials import CredentialStore
from sidecar.errors import InvalidAlertConfigError
from sidecar.ipc.handlers import register_monitoring_methods
from tests.channels import Channels, backend_manager
from tests.monitoring.alerting import SECRETS, webhook_receiver
from tests.runtime.graphs import component, conn, export, node, request_node, response_node

TOKEN = "admin-token-for-alert-tests-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
BACKEND_ID = "backend_alert1"
APP = {"X-Parse-Application-Id": BACKEND_ID}
FLAKY = export(
    component(
        "pay",
        [
            request_node(params="fail"),
            node("stop", "Workflow Stop", {"errorMessage": "card declined"}),
            response_node(**{"pm-ok": "yes"}),
        ],
        [conn("req", "receive", "stop", "run")],
    )
)
OK = export(
    component(
        "pay", [request_node(), response_node(**{"pm-ok": "yes"})], [conn("req", "receive", "resp", "send")]
    )
)


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[Backend]:
    await asyncio.to_thread(CredentialStore(tmp_path).create, "hook-secret", SECRETS["hook-secret"])
    served = Backend(BackendSpec(data_dir=tmp_path, backend_id=BACKEND_ID, name="Alerts", admin_token=TOKEN))
    await served.start()
    yield served
    await served.stop()


@pytest.fixture
async def http(backend: Backend) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as session:
        yield session


async def put(http: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with http.put(path, json=body, headers=ADMIN) as reply:
        return reply.status, await reply.json()


async def test_a_failed_run_reaches_the_webhook_within_five_seconds(
    backend: Backend, http: aiohttp.ClientSession
) -> None:
    async with webhook_receiver() as receiver:
        channel = {"type": "webhook", "url": receiver.url, "secretCredential": "hook-secret"}
        assert (await put(http, "/admin/alerts/channels/ops", channel))[0] == 200
        rule = {"type": "workflowFailed", "workflows": ["pay"], "channels": ["ops"]}
        assert (await put(http, "/admin/alerts/rules/pay-fails", rule))[0] == 200
        assert (await http.put("/admin/workflows/pay", json=FLAKY, headers=ADMIN)).status == 200
        started = time.monotonic()
        async with http.post("/functions/pay", json={}, headers=APP) as reply:
            assert reply.status == 500
        await asyncio.wait_for(receiver.arrived.wait(), 5)
        took = time.monotonic() - started
        assert took < 5
        assert receiver.kinds() == ["firing"]
        assert receiver.notices[0].signature_ok
        alert = receiver.notices[0].body["alert"]
        assert (alert["ruleId"], alert["subject"]) == ("pay-fails", "pay")
        assert "card declined" in alert["detail"]["error"]

        # A second failure is the same alert; a success resolves it.
        async with http.post("/functions/pay", json={}, headers=APP) as reply:
            assert reply.status == 500
        receiver.arrived.clear()
        assert (await http.put("/admin/workflows/pay", json=OK, headers=ADMIN)).status == 200
        async with http.post("/functions/pay", json={}, headers=APP) as reply:
            assert reply.status == 200
        await asyncio.wait_for(receiver.arrived.wait(), 5)
        assert receiver.kinds() == ["firing", "resolved"]
        async with http.get("/admin/alerts", headers=ADMIN) as reply:
            listed = await reply.json()
        assert listed["open"] == []
        assert [entry["kind"] for entry in listed["history"]] == ["resolved", "firing"]


async def test_rules_and_channels_are_managed_over_http_and_saved(
    backend: Backend, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    status, body = await put(
        http, "/admin/alerts/rules/r1", {"type": "consecutiveFailures", "count": 3, "channels": ["nope"]}
    )
    assert status == 400
    assert body["code"] == 142
    assert body["error"] == "the change would make alerts.json invalid: rule 'r1': no channel 'nope'"
    assert not (tmp_path / "alerts.json").exists()  # refused: nothing written

    status, body = await put(
        http, "/admin/alerts/channels/ops", {"type": "webhook", "url": "http://127.0.0.1:9/x"}
    )
    assert status == 200
    assert body["retries"] == 3
    status, _ = await put(
        http, "/admin/alerts/rules/r1", {"type": "consecutiveFailures", "count": 3, "channels": ["ops"]}
    )
    assert status == 200
    saved = json.loads((tmp_path / "alerts.json").read_text())
    assert [r["id"] for r in saved["rules"]] == ["r1"]
    assert [c["id"] for c in saved["channels"]] == ["ops"]

    async with http.delete("/admin/alerts/channels/ops", headers=ADMIN) as reply:
        assert reply.status == 400  # rule r1 still sends through it
    async with http.delete("/admin/alerts/rules/r1", headers=ADMIN) as reply:
        assert reply.status == 200
    async with http.delete("/admin/alerts/rules/r1", headers=ADMIN) as reply:
        assert reply.status == 404
        assert (await reply.json())["code"] == 101
    async with http.get("/admin/alerts/config") as reply:
        assert reply.status == 401  # admin only
    async with http.get("/admin/alerts/config", headers=ADMIN) as reply:
        assert await reply.json() == {"rules": [], "channels": [saved["channels"][0]]}


async def test_test_send_over_http_reports_the_delivery(
    backend: Backend, http: aiohttp.ClientSession
) -> None:
    async with webhook_receiver() as receiver:
        channel = {"type": "webhook", "url": receiver.url, "secretCredential": "hook-secret", "retries": 0}
        assert (await put(http, "/admin/alerts/channels/ops", channel))[0] == 200
        async with http.post("/admin/alerts/channels/ops/test", headers=ADMIN) as reply:
            assert await reply.json() == {"channel": "ops", "status": "sent", "attempts": 1, "error": None}
    assert receiver.kinds() == ["test"]
    assert receiver.notices[0].signature_ok


async def test_an_invalid_alerts_file_refuses_the_start(tmp_path: Path) -> None:
    (tmp_path / "alerts.json").write_text(json.dumps({"rules": [{"id": "x", "type": "errorRate"}]}))
    served = Backend(BackendSpec(data_dir=tmp_path, backend_id=BACKEND_ID, name="Alerts", admin_token=TOKEN))
    with pytest.raises(InvalidAlertConfigError) as caught:
        await served.start()
    assert any("thresholdPercent" in problem for problem in caught.value.data["problems"])


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[BackendManager]:
    async with backend_manager(tmp_path) as managed:
        yield managed


async def test_alert_channels_over_ipc(manager: BackendManager) -> None:
    channels = Channels(register_monitoring_methods, manager)
    backend_id = str(manager.create("Alerts")["id"])
    await manager.start(backend_id)
    hook = {"id": "ops", "type": "webhook", "url": "http://127.0.0.1:9/x", "retries": 0}
    assert (await channels("alerts:put-channel", backend_id, hook))["id"] == "ops"
    rule = {"id": "slow", "type": "p95Above", "thresholdMs": 500, "windowMinutes": 5, "channels": ["ops"]}
    assert (await channels("alerts:put-rule", backend_id, rule))["minRuns"] == 10
    config = await channels("alerts:config", backend_id)
    assert [r["id"] for r in config["rules"]] == ["slow"]
    with pytest.raises(InvalidAlertConfigError):
        await channels("alerts:put-rule", backend_id, {**rule, "thresholdMs": -1})
    sent = await channels("alerts:test-send", backend_id, "ops")
    assert sent["status"] == "failed"  # nothing listens on port 9
    listed = await channels("alerts:list", backend_id, 10)
    assert listed["history"][0]["kind"] == "test"
    assert (await channels("alerts:delete-rule", backend_id, "slow")) == {"deleted": True, "id": "slow"}
    assert (await channels("alerts:delete-channel", backend_id, "ops")) == {"deleted": True, "id": "ops"}
