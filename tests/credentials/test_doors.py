"""The credential channels and admin routes: the same operations, values in but never out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from sidecar import secret_text
from sidecar.backends.backend import Backend, BackendSpec
from sidecar.backends.manager import BackendManager
from sidecar.credentials import CredentialStore
from sidecar.credentials.keys import KEY_FILE_NAME, encode_key
from sidecar.errors import CredentialExistsError, CredentialNotFoundError, InvalidCredentialError
from sidecar.ipc.handlers import register_credential_methods
from tests.channels import Channels, backend_manager
from tests.conftest import PROJECT_ROOT

VALUE = "fo1_live-token-" + "x" * 30
TOKEN = "admin-token-for-credential-tests-01"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[BackendManager]:
    async with backend_manager(tmp_path / "backends") as managed:
        yield managed


async def test_channels_work_on_a_stopped_backend_and_never_answer_a_value(manager: BackendManager) -> None:
    call = Channels(register_credential_methods, manager)
    backend_id = str(manager.create("Creds")["id"])
    created = await call("credentials:create", backend_id, {"name": "fly", "value": VALUE, "provider": "fly"})
    assert created["name"] == "fly"
    assert created["provider"] == "fly"
    assert created["env"] == "NOODL_CREDENTIAL_FLY"
    listed = await call("credentials:list", backend_id)
    assert [item["name"] for item in listed["credentials"]] == ["fly"]
    assert VALUE not in json.dumps(listed)
    tested = await call("credentials:test", backend_id, "fly")
    assert tested["status"] == "untested"
    with pytest.raises(CredentialExistsError):
        await call("credentials:create", backend_id, {"name": "fly", "value": VALUE})
    assert await call("credentials:delete", backend_id, "fly") == {"deleted": True, "name": "fly"}
    with pytest.raises(CredentialNotFoundError):
        await call("credentials:test", backend_id, "fly")
    with pytest.raises(InvalidCredentialError):
        await call("credentials:create", backend_id, {"name": "bad name", "value": VALUE})


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[Backend]:
    spec = BackendSpec(
        data_dir=tmp_path / "b" / "backend_c1", backend_id="backend_c1", name="C", admin_token=TOKEN
    )
    served = Backend(spec)
    await served.start()
    yield served
    await served.stop()


async def test_admin_routes(backend: Backend) -> None:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as http:
        denied = await http.get("/admin/credentials")
        assert denied.status == 401
        made = await http.post("/admin/credentials", json={"name": "claude", "value": VALUE}, headers=ADMIN)
        assert made.status == 201
        assert VALUE not in await made.text()
        again = await http.post("/admin/credentials", json={"name": "claude", "value": VALUE}, headers=ADMIN)
        assert again.status == 409
        assert (await again.json())["code"] == 137
        bad = await http.post("/admin/credentials", json={"name": "claude"}, headers=ADMIN)
        assert bad.status == 400
        assert (await bad.json())["code"] == 142
        listed = await http.get("/admin/credentials", headers=ADMIN)
        text = await listed.text()
        assert VALUE not in text
        assert [item["name"] for item in json.loads(text)["credentials"]] == ["claude"]
        tested = await http.post("/admin/credentials/claude/test", headers=ADMIN)
        assert (await tested.json())["status"] == "untested"
        gone = await http.delete("/admin/credentials/claude", headers=ADMIN)
        assert await gone.json() == {"deleted": True, "name": "claude"}
        missing = await http.delete("/admin/credentials/claude", headers=ADMIN)
        assert missing.status == 404
        assert (await missing.json())["code"] == 101


async def test_a_credential_value_never_reaches_the_history_file(backend: Backend) -> None:
    hello = json.loads((PROJECT_ROOT / "examples" / "hello.workflow.json").read_text())
    value = "cred-value-without-any-known-format-31415"
    unrelated = "an-ordinary-name-that-history-keeps-2718"
    app = {"X-Parse-Application-Id": "backend_c1"}
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as http:
        assert (await http.put("/admin/workflows/hello", json=hello, headers=ADMIN)).status == 200
        made = await http.post("/admin/credentials", json={"name": "custom", "value": value}, headers=ADMIN)
        assert made.status == 201
        for name in (value, unrelated):
            reply = await http.post("/functions/hello", json={"name": name}, headers=app)
            assert reply.status == 200
    await backend.stop()
    raw = b"".join(path.read_bytes() for path in backend.spec.data_dir.rglob("executions.sqlite*"))
    assert unrelated.encode() in raw  # what is not a credential is recorded as it was
    assert value.encode() not in raw


async def test_stored_values_are_hidden_from_the_start_of_a_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = "stored-before-this-process-started-1618"
    data_dir = tmp_path / "b" / "backend_c2"
    CredentialStore(data_dir).create("earlier", value)
    monkeypatch.setattr(secret_text, "_known", ())  # as in a new process: nothing registered yet
    monkeypatch.setattr(secret_text, "_known_search", None)
    hello = json.loads((PROJECT_ROOT / "examples" / "hello.workflow.json").read_text())
    served = Backend(BackendSpec(data_dir=data_dir, backend_id="backend_c2", name="C", admin_token=TOKEN))
    await served.start()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{served.port}") as http:
            assert (await http.put("/admin/workflows/hello", json=hello, headers=ADMIN)).status == 200
            app = {"X-Parse-Application-Id": "backend_c2"}
            assert (await http.post("/functions/hello", json={"name": value}, headers=app)).status == 200
    finally:
        await served.stop()
    raw = b"".join(path.read_bytes() for path in data_dir.rglob("executions.sqlite*"))
    assert b"Hello " in raw
    assert value.encode() not in raw


async def test_a_wrong_key_answers_409_naming_the_key_and_loses_nothing(backend: Backend) -> None:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as http:
        made = await http.post("/admin/credentials", json={"name": "one", "value": VALUE}, headers=ADMIN)
        assert made.status == 201
        before = (backend.spec.data_dir / "credentials.json").read_bytes()
        key_file = backend.spec.data_dir.parent / KEY_FILE_NAME
        key_file.write_text(encode_key(b"\x02" * 32) + "\n")
        refused = await http.post("/admin/credentials", json={"name": "two", "value": VALUE}, headers=ADMIN)
        assert refused.status == 409
        body = await refused.json()
        assert body["code"] == 1
        assert "were encrypted with key" in body["error"]
        assert (backend.spec.data_dir / "credentials.json").read_bytes() == before
        listed = await http.get("/admin/credentials", headers=ADMIN)  # names and times need no key
        assert [item["name"] for item in (await listed.json())["credentials"]] == ["one"]
