"""A backend with one of everything a bundle carries, and a known secret planted in every place a bundle
must never read from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from sidecar.backends.backend import Backend, BackendSpec
from sidecar.backends.registry import ensure_admin_token
from sidecar.credentials.keys import KEY_ENV, KEY_FILE_ENV, KEYRING_ENV
from sidecar.deploy.bundle import Bundle, collect_bundle
from sidecar.deploy.context import BuildContext, write_build_context
from sidecar.jsonfile import write_json_atomic
from sidecar.private_files import private_dir
from tests.conftest import PROJECT_ROOT

BACKEND_ID = "backend_deploy1"
ADMIN_TOKEN = "admin-token-PLANTED-0001-deploytests"
CREDENTIAL = "credential-value-PLANTED-0002"
MASTER_ONLY = "master-only-param-PLANTED-0003"
HISTORY_ONLY = "history-only-value-PLANTED-0004"
WEBHOOK_SECRET = "whsec_webhooksecretPLANTED0005abcdef"
PLANTED = (ADMIN_TOKEN, CREDENTIAL, MASTER_ONLY, HISTORY_ONLY, WEBHOOK_SECRET)
HELLO = json.loads((PROJECT_ROOT / "examples" / "hello.workflow.json").read_text())
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
MASTER = {"X-Parse-Application-Id": BACKEND_ID, "X-Parse-Master-Key": ADMIN_TOKEN}


@dataclass(frozen=True)
class Prepared:
    data_dir: Path
    webhook_id: str


@pytest.fixture(autouse=True)
def isolated_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (KEY_ENV, KEY_FILE_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(KEYRING_ENV, "0")


async def _prepare(data_dir: Path) -> str:
    private_dir(data_dir)
    ensure_admin_token(data_dir, ADMIN_TOKEN)  # as the registry and serve keep it
    config = {"id": BACKEND_ID, "name": "Deploy me", "createdAt": "2026-01-01T00:00:00.000Z", "port": 8600}
    write_json_atomic(data_dir / "config.json", config)
    spec = BackendSpec(data_dir=data_dir, backend_id=BACKEND_ID, name="Deploy me", admin_token=ADMIN_TOKEN)
    backend = Backend(spec)
    await backend.start()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as http:
            todo = {"className": "Todo", "fields": {"title": {"type": "String"}, "done": {"type": "Boolean"}}}
            params = {
                "params": {"greeting": "hi", "apiSecret": MASTER_ONLY},
                "masterKeyOnly": {"apiSecret": True},
            }
            fly = {"name": "fly", "value": CREDENTIAL, "provider": "fly"}
            app = {"X-Parse-Application-Id": BACKEND_ID}
            calls = [
                http.put("/admin/workflows/hello", json=HELLO, headers=ADMIN),
                http.post("/schemas/Todo", json=todo, headers=MASTER),
                http.put("/config", json=params, headers=MASTER),
                http.put("/admin/permissions", json={"devOpen": False}, headers=ADMIN),
                http.post("/admin/credentials", json=fly, headers=ADMIN),
                http.post("/functions/hello", json={"name": HISTORY_ONLY}, headers=app),
            ]
            for call in calls:
                reply = await call
                assert reply.status < 300, await reply.text()
            trigger = {
                "type": "webhook",
                "target": {"kind": "function", "name": "hello"},
                "webhook": {"slug": "orders"},
                "secret": WEBHOOK_SECRET,
            }
            made = await http.post("/admin/triggers", json=trigger, headers=ADMIN)
            assert made.status < 300, await made.text()
            webhook_id = str((await made.json())["trigger"]["id"])
    finally:
        await backend.stop()
    return webhook_id


@pytest.fixture
async def prepared(tmp_path: Path) -> Prepared:
    data_dir = tmp_path / "backends" / BACKEND_ID
    return Prepared(data_dir, await _prepare(data_dir))


@pytest.fixture
async def context(prepared: Prepared, tmp_path: Path) -> tuple[Bundle, BuildContext]:
    """The prepared backend's bundle and the build context written from it."""
    bundle = await collect_bundle(prepared.data_dir)
    return bundle, write_build_context(bundle, tmp_path / "context")
