"""The admin routes the editor's BackendManager calls beyond the contract's core: schema channels as
the editor reads them, workflow definitions, function rules, secrets, search, sign-in, email,
trigger secret rotation, ``whoami`` and the ``/_admin`` page. A real backend on a loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sidecar.backends.backend import Backend, BackendSpec
from tests.conftest import PROJECT_ROOT

TOKEN = "admin-token-for-tests-0123456789"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
HELLO = json.loads((PROJECT_ROOT / "examples" / "hello.workflow.json").read_text())


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[Backend]:
    served = Backend(BackendSpec(data_dir=tmp_path, backend_id="backend_ed1", name="Ed", admin_token=TOKEN))
    await served.start()
    yield served
    await served.stop()


@pytest.fixture
async def http(backend: Backend) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as session:
        yield session


async def call(http: aiohttp.ClientSession, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"headers": ADMIN}
    if body is not None:
        kwargs["json"] = body
    async with http.request(method, path, **kwargs) as response:
        return response.status, json.loads(await response.text())


async def schema(http: aiohttp.ClientSession, action: dict[str, Any]) -> tuple[int, Any]:
    return await call(http, "POST", "/admin/schema", action)


# ---- schema channels -------------------------------------------------------------------------------


async def test_create_table_is_idempotent_and_keeps_the_rows(http: aiohttp.ClientSession) -> None:
    create = {"action": "createTable", "table": "Pet", "columns": [{"name": "name", "type": "String"}]}
    assert await schema(http, create) == (200, {"success": True, "created": True, "tableName": "Pet"})
    status, _record = await call(http, "POST", "/api/Pet", {"name": "Rex"})
    assert status in (200, 201)
    again = {**create, "columns": [{"name": "other", "type": "Number"}]}
    assert await schema(http, again) == (200, {"success": True, "created": False, "tableName": "Pet"})
    _, table = await call(http, "GET", "/admin/schema/Pet")
    assert [c["name"] for c in table["columns"]] == ["name"]
    _, rows = await call(http, "GET", "/api/Pet")
    assert [row["name"] for row in rows["results"]] == ["Rex"]


async def test_change_column_type_converts_values_and_refuses_what_would_not_survive(
    http: aiohttp.ClientSession,
) -> None:
    await schema(
        http, {"action": "createTable", "table": "Item", "columns": [{"name": "price", "type": "Number"}]}
    )
    for price in (3, 4.5):
        await call(http, "POST", "/api/Item", {"price": price})
    change = {"action": "changeColumnType", "table": "Item", "column": "price", "type": "String"}
    status, body = await schema(http, change)
    assert status == 200
    assert body["changed"] is True
    assert body["from"] == "Number"
    assert body["rebuilt"] is True
    assert body["convertedValues"] == 2
    _, rows = await call(http, "GET", "/api/Item")
    assert sorted(row["price"] for row in rows["results"]) == ["3", "4.5"]

    same = await schema(http, change)
    assert same[0] == 200
    assert same[1]["changed"] is False

    status, refused = await schema(http, {**change, "type": "GeoPoint"})
    assert status == 400
    assert "String to GeoPoint" in refused["error"]
    _, table = await call(http, "GET", "/admin/schema/Item")
    assert table["columns"][0]["type"] == "String"  # refused: nothing changed
    _, rows = await call(http, "GET", "/api/Item")
    assert sorted(row["price"] for row in rows["results"]) == ["3", "4.5"]

    assert (await schema(http, {**change, "column": "missing"}))[0] == 400
    assert (await schema(http, {"action": "changeColumnType", "table": "Item"}))[0] == 400


# ---- workflow definitions ----------------------------------------------------------------------


DEFINITION = {
    "id": "greet",
    "name": "Greet",
    "entry": "a",
    "steps": [
        {"id": "a", "kind": "wait", "params": {"duration": 1}, "next": ["b"], "ui": {"x": 1, "y": 2}},
        {"id": "b", "kind": "call-function", "ref": "hello"},
    ],
}


async def test_workflow_definitions_are_stored_validated_and_not_faked_as_runs(
    http: aiohttp.ClientSession, backend: Backend
) -> None:
    assert await call(http, "GET", "/admin/workflow-defs") == (200, {"workflows": [], "lastRuns": {}})
    status, created = await call(http, "POST", "/admin/workflow-defs", DEFINITION)
    assert (status, created) == (201, {"workflow": DEFINITION})
    assert (backend.spec.data_dir / "workflow-defs" / "greet.json").is_file()
    assert await call(http, "GET", "/admin/workflow-defs/greet") == (200, {"workflow": DEFINITION})

    broken = {**DEFINITION, "steps": [{"id": "a", "kind": "wait", "next": ["nowhere"]}]}
    status, refused = await call(http, "PUT", "/admin/workflow-defs/greet", broken)
    assert status == 400
    assert "nowhere" in refused["error"]
    status, verdict = await call(http, "POST", "/admin/workflow-defs/validate", broken)
    assert status == 200
    assert verdict["valid"] is False
    assert verdict["definition"] is None
    assert (await call(http, "GET", "/admin/workflow-defs/greet"))[1] == {"workflow": DEFINITION}

    status, run = await call(http, "POST", "/admin/workflow-defs/greet/run", {"payload": {}})
    assert status == 501
    assert "no engine" in run["error"]
    assert (await call(http, "POST", "/admin/workflow-defs/nope/run", {}))[0] == 404
    assert (await call(http, "POST", "/admin/workflow-runs/exec_1/cancel"))[0] == 404
    status, kinds = await call(http, "GET", "/admin/workflow-step-kinds")
    assert status == 200
    assert kinds["kinds"] == []
    assert kinds["engine"] is False

    assert await call(http, "DELETE", "/admin/workflow-defs/greet") == (200, {"deleted": True, "id": "greet"})
    assert (await call(http, "DELETE", "/admin/workflow-defs/greet"))[0] == 404


# ---- function rules and secrets ----------------------------------------------------------------


async def test_function_rules_are_the_security_policy_and_report_the_effective_rule(
    http: aiohttp.ClientSession, backend: Backend
) -> None:
    await call(http, "PUT", "/admin/workflows/hello", HELLO)
    await call(http, "PUT", "/admin/permissions", {"version": 1, "devOpen": False})
    status, listing = await call(http, "GET", "/admin/permissions/functions")
    assert status == 200
    assert listing["functions"] == [
        {
            "name": "hello",
            "rule": None,
            "call": "public",
            "source": "requestNode",
            "timeoutMs": None,
            "deployed": True,
        }
    ]
    status, changed = await call(http, "PUT", "/admin/permissions/functions/hello", {"call": "admin"})
    assert status == 200
    assert changed["function"]["call"] == "admin"
    assert changed["function"]["source"] == "rule"
    saved = json.loads((backend.spec.data_dir / "security.json").read_text())
    assert saved["functions"] == {"hello": {"call": "admin"}}
    anonymous = await http.post(
        "/functions/hello", json={}, headers={"X-Parse-Application-Id": "backend_ed1"}
    )
    assert anonymous.status == 403  # the door enforces the rule at once
    assert (await call(http, "PUT", "/admin/permissions/functions/hello", {"call": "everyone"}))[0] == 400
    status, reset = await call(http, "DELETE", "/admin/permissions/functions/hello")
    assert status == 200
    assert reset["removed"] is True
    assert reset["function"]["source"] == "requestNode"


async def test_secrets_are_write_only_and_kept_in_a_private_file(
    http: aiohttp.ClientSession, backend: Backend
) -> None:
    value = "sk_live_do-not-leak-0123456789"
    (backend.spec.data_dir / "secrets.json").write_text(json.dumps({"adminToken": TOKEN}))
    status, put = await call(http, "PUT", "/admin/secrets/STRIPE_KEY", {"value": value})
    assert (status, put["created"]) == (201, True)
    assert (await call(http, "PUT", "/admin/secrets/STRIPE_KEY", {"value": value + "2"}))[0] == 200
    status, listing = await call(http, "GET", "/admin/secrets")
    assert listing["readable"] is False
    assert listing["secrets"] == [
        {"name": "STRIPE_KEY", "envName": "NODEGX_SECRET_STRIPE_KEY", "alsoInEnvironment": False}
    ]
    assert value not in json.dumps(listing)
    data_dir = backend.spec.data_dir
    secrets_file = data_dir / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    document = json.loads(secrets_file.read_text())
    assert document["adminToken"] == TOKEN  # the other namespaces are left alone
    holders = [p for p in data_dir.rglob("*") if p.is_file() and value.encode() in p.read_bytes()]
    assert holders == [secrets_file]
    assert (await call(http, "PUT", "/admin/secrets/bad name", {"value": "x"}))[0] == 400
    assert (await call(http, "PUT", "/admin/secrets/K", {"value": ""}))[0] == 400
    assert (await call(http, "PUT", "/admin/secrets/K", {"value": "x", "extra": 1}))[0] == 400
    status, deleted = await call(http, "DELETE", "/admin/secrets/STRIPE_KEY")
    assert status == 200
    assert deleted["existed"] is True
    assert (await call(http, "GET", "/admin/secrets"))[1]["secrets"] == []


# ---- search, sign-in, email --------------------------------------------------------------------


async def test_search_settings_are_stored_and_the_missing_index_is_said(
    http: aiohttp.ClientSession, backend: Backend
) -> None:
    await schema(
        http, {"action": "createTable", "table": "Doc", "columns": [{"name": "body", "type": "String"}]}
    )
    assert (await call(http, "PUT", "/admin/search/collections/Doc", {"fields": ["nope"]}))[0] == 400
    assert (await call(http, "PUT", "/admin/search/collections/_User", {"fields": ["body"]}))[0] == 400
    status, answer = await call(http, "PUT", "/admin/search/collections/Doc", {"fields": ["body"]})
    assert status == 503
    assert "no full-text index engine" in answer["error"]
    status, config = await call(http, "GET", "/admin/search")
    assert config["config"]["collections"] == {"Doc": {"enabled": True, "fields": ["body"]}}
    assert config["indexing"] is False
    assert (await call(http, "POST", "/admin/search/collections/Doc/rebuild"))[0] == 503
    status, removed = await call(http, "DELETE", "/admin/search/collections/Doc")
    assert status == 200
    assert removed["removed"] is True
    assert (await call(http, "POST", "/admin/search/collections/Doc/rebuild"))[0] == 400


async def test_sign_in_settings_never_return_a_client_secret(
    http: aiohttp.ClientSession, backend: Backend
) -> None:
    status, config = await call(http, "GET", "/admin/auth")
    assert status == 200
    assert config["config"]["providers"] == []
    assert "google" in config["presets"]
    assert (await call(http, "PUT", "/admin/auth", {"providers": []}))[0] == 400
    status, policy = await call(http, "PUT", "/admin/auth", {"redirectAllowList": ["https://app.example"]})
    assert status == 200
    assert policy["config"]["redirectAllowList"] == ["https://app.example"]
    body = {"preset": "google", "clientId": "cid", "clientSecret": "shh-client-secret"}
    status, saved = await call(http, "PUT", "/admin/auth/providers/google", body)
    assert status == 200
    assert saved["provider"]["hasClientSecret"] is True
    assert saved["provider"]["kind"] == "oidc"
    assert saved["provider"]["callbackUrl"].endswith("/auth/google/callback")
    assert "shh-client-secret" not in json.dumps(saved)
    assert "shh-client-secret" not in (backend.spec.data_dir / "auth.json").read_text()
    assert (await call(http, "PUT", "/admin/auth/providers/x", {"preset": "myspace"}))[0] == 400
    assert (await call(http, "DELETE", "/admin/auth/providers/google"))[0] == 200
    assert (await call(http, "DELETE", "/admin/auth/providers/google"))[0] == 404


class _FakeSmtp:
    """Just enough of an SMTP server to take one message."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 fake ESMTP\r\n")
        data: list[str] = []
        in_data = False
        while line := (await reader.readline()).decode():
            if in_data:
                if line == ".\r\n":
                    in_data = False
                    self.messages.append("".join(data))
                    writer.write(b"250 queued\r\n")
                else:
                    data.append(line)
                continue
            verb = line[:4].upper()
            if verb == "DATA":
                in_data = True
                writer.write(b"354 go on\r\n")
            elif verb == "QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()


async def test_email_settings_templates_and_a_real_test_send(
    http: aiohttp.ClientSession, backend: Backend
) -> None:
    status, config = await call(http, "GET", "/admin/email/config")
    assert config["configured"] is False
    assert config["hasSmtpPassword"] is False
    assert (await call(http, "POST", "/admin/email/test", {}))[0] == 400
    assert (await call(http, "POST", "/admin/email/test", {"to": "a@example.com"}))[0] == 503
    assert (await call(http, "PUT", "/admin/email/config", {"smtp": {"port": "x"}}))[0] == 400

    fake = _FakeSmtp()
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = {
        "from": "app@example.com",
        "smtp": {"host": "127.0.0.1", "port": port},
        "smtpPassword": "pw-123",
    }
    async with server:
        status, saved = await call(http, "PUT", "/admin/email/config", settings)
        assert status == 200
        assert saved["configured"] is True
        assert saved["hasSmtpPassword"] is True
        assert "pw-123" not in (backend.spec.data_dir / "email.json").read_text()
        status, sent = await call(http, "POST", "/admin/email/test", {"to": "dev@example.com"})
        assert (status, sent["success"]) == (200, True)
    assert len(fake.messages) == 1
    assert "dev@example.com" in fake.messages[0]
    with contextlib.suppress(Exception):
        server.close()
    status, failed = await call(http, "POST", "/admin/email/test", {"to": "dev@example.com"})
    assert status == 502
    assert "Failed to send" in failed["error"]

    status, templates = await call(http, "GET", "/admin/email/templates")
    assert {t["id"] for t in templates["templates"]} == {"passwordReset", "verifyEmail", "magicLink"}
    status, put = await call(
        http, "PUT", "/admin/email/templates/passwordReset", {"subject": "Reset {{appName}}"}
    )
    assert put["effective"]["subject"] == "Reset {{appName}}"
    status, preview = await call(http, "GET", "/admin/email/templates/passwordReset/preview")
    assert preview["preview"]["subject"] == "Reset Your App"
    status, reverted = await call(http, "DELETE", "/admin/email/templates/passwordReset")
    assert reverted["removed"] is True
    assert (await call(http, "PUT", "/admin/email/templates/nope", {}))[0] == 404


# ---- triggers, whoami, dashboard ---------------------------------------------------------------


async def test_trigger_secret_rotation_and_the_put_verb_for_enabling(http: aiohttp.ClientSession) -> None:
    await call(http, "PUT", "/admin/workflows/hello", HELLO)
    hook = {
        "type": "webhook",
        "target": {"kind": "function", "name": "hello"},
        "webhook": {"slug": "g", "scheme": "token"},
    }
    _, created = await call(http, "POST", "/admin/triggers", hook)
    trigger_id, old = created["trigger"]["id"], created["secret"]
    status, rotated = await call(http, "POST", f"/admin/triggers/{trigger_id}/secret")
    assert status == 200
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != old
    url = "/hooks/backend_ed1/g"
    assert (await http.post(url, json={}, headers={"X-Webhook-Token": old})).status == 401
    assert (await http.post(url, json={}, headers={"X-Webhook-Token": rotated["secret"]})).status == 200

    status, toggled = await call(http, "PUT", f"/admin/triggers/{trigger_id}/enabled", {"enabled": False})
    assert status == 200
    assert toggled["trigger"]["enabled"] is False
    assert (await call(http, "PUT", f"/admin/triggers/{trigger_id}/enabled", {"enabled": "no"}))[0] == 400
    schedule = {
        "type": "schedule",
        "target": {"kind": "function", "name": "hello"},
        "schedule": {"cron": "0 3 * * *"},
    }
    _, plain = await call(http, "POST", "/admin/triggers", schedule)
    assert (await call(http, "POST", f"/admin/triggers/{plain['trigger']['id']}/secret"))[0] == 400
    assert (await call(http, "POST", "/admin/triggers/trg_missing/secret"))[0] == 404


async def test_whoami_and_the_dashboard_page(http: aiohttp.ClientSession) -> None:
    status, who = await call(http, "GET", "/_admin/whoami")
    assert status == 200
    assert who["backendId"] == "backend_ed1"
    assert who["adminAccount"] is False
    assert who["projectDir"] is None
    assert (await http.get("/_admin/whoami")).status == 401
    page = await http.get("/_admin")
    assert page.status == 200
    assert page.headers["Content-Type"].startswith("text/html")
    text = await page.text()
    assert "/_admin/whoami" in text
    assert TOKEN not in text
