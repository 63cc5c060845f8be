"""``/admin/keys`` and the ``X-NodeGX-Api-Key`` principal: shown once, stored hashed, held to scopes."""

from __future__ import annotations

import json
import os
import stat
from typing import Any

import aiohttp

from sidecar.backends.backend import Backend
from tests.security.conftest import ADMIN, answer, sign_up


async def create_key(http: aiohttp.ClientSession, scopes: list[str], **extra: Any) -> dict[str, Any]:
    body = {"name": "ci", "scopes": scopes, **extra}
    status, created = await answer(await http.post("/admin/keys", json=body, headers=ADMIN))
    assert status == 201, created
    assert isinstance(created, dict)
    return created


def keyed(created: dict[str, Any]) -> dict[str, str]:
    return {"X-NodeGX-Api-Key": created["key"]}


async def test_the_plaintext_is_returned_once_and_only_its_hash_is_stored(
    http: aiohttp.ClientSession, backend: Backend
) -> None:
    created = await create_key(http, ["data:read"])
    assert created["key"].startswith("ngx_")
    assert len(created["key"]) > 40
    assert created["prefix"] == created["key"][:10]
    _, listing = await answer(await http.get("/admin/keys", headers=ADMIN))
    (listed,) = listing["keys"]
    assert "key" not in listed
    assert "keyHash" not in listed
    assert {k: v for k, v in created.items() if k != "key"} == listed
    path = backend.spec.data_dir / "api-keys.json"
    assert created["key"] not in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not (await http.get("/classes/_ApiKey", headers=ADMIN)).ok  # not a Parse class


async def test_bad_scopes_and_names_are_refused(http: aiohttp.ClientSession) -> None:
    for body in (
        {"name": "x", "scopes": ["data:everything"]},
        {"name": "x", "scopes": []},
        {"name": "", "scopes": ["data:read"]},
        {"name": "x", "scopes": ["data:read"], "actsAsUserId": "nobody"},
    ):
        status, _ = await answer(await http.post("/admin/keys", json=body, headers=ADMIN))
        assert status in (400, 404), body
    _, listing = await answer(await http.get("/admin/keys", headers=ADMIN))
    assert listing == {"keys": []}


async def test_a_key_reads_and_writes_within_its_scopes(http: aiohttp.ClientSession) -> None:
    await http.post("/classes/Todo", json={"title": "a"}, headers=ADMIN)
    reader, writer = await create_key(http, ["data:read"]), await create_key(http, ["data:write"])
    status, body = await answer(await http.get("/classes/Todo", headers=keyed(reader)))
    assert (status, len(body["results"])) == (200, 1)
    status, body = await answer(await http.post("/classes/Todo", json={"t": 1}, headers=keyed(reader)))
    assert (status, body["code"]) == (403, 119)
    assert "data:write" in body["error"]
    assert (await http.post("/classes/Todo", json={"t": 1}, headers=keyed(writer))).status == 201
    assert (await http.get("/classes/Todo", headers=keyed(writer))).status == 403


async def test_an_unknown_or_revoked_key_is_401_never_anonymous(http: aiohttp.ClientSession) -> None:
    created = await create_key(http, ["data:read"])
    status, body = await answer(await http.get("/classes/Todo", headers={"X-NodeGX-Api-Key": "ngx_nope"}))
    assert (status, body) == (401, {"error": "Invalid or revoked API key."})
    status, revoked = await answer(await http.delete(f"/admin/keys/{created['objectId']}", headers=ADMIN))
    assert (status, revoked["revoked"]) == (200, True)
    assert (await http.get("/classes/Todo", headers=keyed(created))).status == 401
    assert (await http.delete("/admin/keys/missing", headers=ADMIN)).status == 404


async def test_a_key_acts_as_its_user_for_row_acls(http: aiohttp.ClientSession) -> None:
    ann, _ = await sign_up(http, "ann")
    acl = {ann: {"read": True}}
    _, memo = await answer(await http.post("/classes/Memo", json={"t": "x", "ACL": acl}, headers=ADMIN))
    as_ann = await create_key(http, ["data:read"], actsAsUserId=ann)
    keyless = await create_key(http, ["data:read"])
    path = f"/classes/Memo/{memo['objectId']}"
    assert (await http.get(path, headers=keyed(as_ann))).status == 200
    assert (await http.get(path, headers=keyed(keyless))).status == 404


async def test_keys_survive_a_restart(http: aiohttp.ClientSession, backend: Backend) -> None:
    created = await create_key(http, ["data:read"])
    on_disk = json.loads((backend.spec.data_dir / "api-keys.json").read_text())
    assert [entry["objectId"] for entry in on_disk["keys"]] == [created["objectId"]]
    await backend.stop()
    await backend.start()
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as again:
        assert (await again.get("/classes/Todo", headers=keyed(created))).status == 200


async def test_a_batch_is_a_write_and_its_reads_still_need_data_read(http: aiohttp.ClientSession) -> None:
    reader, writer = await create_key(http, ["data:read"]), await create_key(http, ["data:write"])
    writes = {"requests": [{"method": "POST", "path": "/classes/Todo", "body": {"t": 1}}]}
    status, body = await answer(await http.post("/batch", json=writes, headers=keyed(reader)))
    assert (status, body["code"]) == (403, 119)
    status, body = await answer(await http.post("/batch", json=writes, headers=keyed(writer)))
    assert status == 200
    assert "success" in body[0]
    reads = {"requests": [{"method": "GET", "path": "/classes/Todo", "body": {}}]}
    status, body = await answer(await http.post("/batch", json=reads, headers=keyed(writer)))
    assert status == 200
    assert body[0]["error"]["code"] == 119


async def test_realtime_accepts_a_key_in_the_query_with_data_read(http: aiohttp.ClientSession) -> None:
    reader, writer = await create_key(http, ["data:read"]), await create_key(http, ["data:write"])
    stream = {"Accept": "text/event-stream"}
    async with http.get("/realtime", params={"apiKey": reader["key"]}, headers=stream) as opened:
        assert opened.status == 200
    async with http.get("/realtime", params={"apiKey": writer["key"]}, headers=stream) as refused:
        assert refused.status == 403
    async with http.get("/realtime", params={"apiKey": "ngx_unknown"}, headers=stream) as unknown:
        assert unknown.status == 401


async def test_guessing_keys_trips_the_credential_limiter(http: aiohttp.ClientSession) -> None:
    statuses = [
        (await http.get("/classes/Todo", headers={"X-NodeGX-Api-Key": f"ngx_guess{n}"})).status
        for n in range(12)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[-1] == 429


async def test_the_byob_api_routes_honour_keys_too(http: aiohttp.ClientSession) -> None:
    reader = await create_key(http, ["data:read"])
    assert (await http.get("/api/Todo", headers=keyed(reader))).status == 200
    status, body = await answer(await http.post("/api/Todo", json={"t": 1}, headers=keyed(reader)))
    assert (status, body["code"]) == (403, 119)
    assert (await http.get("/api/Todo", headers={"X-NodeGX-Api-Key": "ngx_unknown"})).status == 401
