"""``/admin/permissions``: the policy over HTTP, applied as the store's class-level permissions."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from sidecar.backends.backend import Backend, BackendSpec, BackendState
from sidecar.errors import SecurityFileError
from tests.security.conftest import ADMIN, APP, BACKEND_ID, TOKEN, answer, sign_up

STAFF_ONLY_FIND = {"find": {"role:staff": True}, "get": {"role:staff": True}}


async def test_a_new_local_backend_is_dev_open_until_a_policy_says_otherwise(
    http: aiohttp.ClientSession,
) -> None:
    status, policy = await answer(await http.get("/admin/permissions", headers=ADMIN))
    assert (status, policy) == (200, {"version": 1, "devOpen": True, "collections": {}, "functions": {}})
    _, health = await answer(await http.get("/health"))
    assert health["security"] == {"devOpen": True, "enforced": False, "migratedThisStart": False}
    assert (await http.put("/admin/permissions", json={"devOpen": False}, headers=ADMIN)).status == 200
    _, health = await answer(await http.get("/health"))
    assert health["security"] == {"devOpen": False, "enforced": True, "migratedThisStart": False}


async def test_the_permission_routes_need_the_admin_token(http: aiohttp.ClientSession) -> None:
    assert (await http.get("/admin/permissions", headers=APP)).status == 401
    assert (
        await http.put("/admin/permissions", json={}, headers={"Authorization": "Bearer wrong"})
    ).status == 401
    assert (await http.get("/admin/keys")).status == 401


async def test_put_replaces_the_policy_and_writes_security_json(
    http: aiohttp.ClientSession, backend: Backend
) -> None:
    policy = {
        "devOpen": True,
        "collections": {"Todo": {"create": {}}},
        "functions": {"hello": {"timeoutMs": 0}},
    }
    status, saved = await answer(await http.put("/admin/permissions", json=policy, headers=ADMIN))
    assert status == 200
    assert saved == {"version": 1, **policy}
    on_disk = json.loads((backend.spec.data_dir / "security.json").read_text())
    assert on_disk == saved
    _, health = await answer(await http.get("/health"))
    assert health["security"]["devOpen"] is True


async def test_an_invalid_policy_names_the_bad_key_and_changes_nothing(
    http: aiohttp.ClientSession, backend: Backend
) -> None:
    bad = {"collections": {"Todo": {"find": {"*": "yes"}}}, "functions": {"f": {"call": "anyone"}}}
    status, body = await answer(await http.put("/admin/permissions", json=bad, headers=ADMIN))
    assert status == 400
    assert "collections.Todo.find.*" in body["error"]
    assert "functions.f.call" in body["error"]
    assert not (backend.spec.data_dir / "security.json").exists()


async def test_collection_rules_are_enforced_by_the_parse_routes(http: aiohttp.ClientSession) -> None:
    user_id, user = await sign_up(http, "ann")
    assert (await http.post("/classes/Todo", json={"title": "a"}, headers=ADMIN)).status == 201
    status, _ = await answer(
        await http.put("/admin/permissions/collections/Todo", json=STAFF_ONLY_FIND, headers=ADMIN)
    )
    assert status == 200
    status, body = await answer(await http.get("/classes/Todo", headers=user))
    assert (status, body["code"]) == (403, 119)
    await http.post("/admin/roles", json={"name": "staff"}, headers=ADMIN)
    await http.post("/admin/roles/staff/users", json={"userId": user_id}, headers=ADMIN)
    status, body = await answer(await http.get("/classes/Todo", headers=user))
    assert status == 200
    assert [row["title"] for row in body["results"]] == ["a"]


async def test_resetting_a_collection_restores_open_access(http: aiohttp.ClientSession) -> None:
    await http.put("/admin/permissions/collections/Todo", json={"create": {}}, headers=ADMIN)
    status, body = await answer(await http.post("/classes/Todo", json={"a": 1}, headers=APP))
    assert (status, body["code"]) == (403, 119)
    status, policy = await answer(await http.delete("/admin/permissions/collections/Todo", headers=ADMIN))
    assert status == 200
    assert policy["collections"] == {}
    assert (await http.post("/classes/Todo", json={"a": 1}, headers=APP)).status == 201


async def test_rules_of_security_json_apply_again_at_the_next_start(tmp_path: Path) -> None:
    (tmp_path / "security.json").write_text(json.dumps({"collections": {"Note": {"create": {}}}}))
    served = Backend(BackendSpec(data_dir=tmp_path, backend_id=BACKEND_ID, name="S", admin_token=TOKEN))
    await served.start()
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{served.port}") as http:
            status, body = await answer(await http.post("/classes/Note", json={"a": 1}, headers=APP))
            assert (status, body["code"]) == (403, 119)
    finally:
        await served.stop()


async def test_a_broken_security_json_refuses_the_start(tmp_path: Path) -> None:
    (tmp_path / "security.json").write_text('{"devOpen": "sometimes"}')
    served = Backend(BackendSpec(data_dir=tmp_path, backend_id=BACKEND_ID, name="S", admin_token=TOKEN))
    with pytest.raises(SecurityFileError, match="devOpen"):
        await served.start()
    assert served.state is BackendState.FAILED


async def test_check_access_answers_what_a_request_would_meet(http: aiohttp.ClientSession) -> None:
    user_id, _ = await sign_up(http, "bob")
    await http.put("/admin/permissions/collections/Todo", json=STAFF_ONLY_FIND, headers=ADMIN)
    await http.post("/admin/roles", json={"name": "staff"}, headers=ADMIN)

    async def check(query: dict[str, object]) -> bool:
        status, body = await answer(await http.post("/admin/permissions/check", json=query, headers=ADMIN))
        assert status == 200, body
        assert isinstance(body["reason"], str)
        assert body["reason"]
        return bool(body["allowed"])

    assert await check({"collection": "Todo", "operation": "find"}) is False
    assert await check({"collection": "Todo", "operation": "find", "userId": user_id}) is False
    assert await check({"collection": "Todo", "operation": "find", "userId": user_id, "roles": ["staff"]})
    assert await check({"collection": "Todo", "operation": "create"})  # not named by the rules: open
    await http.post("/admin/roles/staff/users", json={"userId": user_id}, headers=ADMIN)
    assert await check({"collection": "Todo", "operation": "find", "userId": user_id})  # roles looked up


async def test_check_access_refuses_an_unclear_query(http: aiohttp.ClientSession) -> None:
    for query in ({}, {"collection": "Todo", "operation": "read"}, {"function": "f", "collection": "T"}):
        status, body = await answer(await http.post("/admin/permissions/check", json=query, headers=ADMIN))
        assert status == 400, query
        assert "query" in body["error"]


async def test_concurrent_collection_changes_all_land_in_the_file(
    http: aiohttp.ClientSession, backend: Backend
) -> None:
    names = [f"C{n}" for n in range(8)]
    replies = await asyncio.gather(
        *(
            http.put(f"/admin/permissions/collections/{name}", json={"create": {}}, headers=ADMIN)
            for name in names
        )
    )
    assert [reply.status for reply in replies] == [200] * len(names)
    on_disk = json.loads((backend.spec.data_dir / "security.json").read_text())
    assert sorted(on_disk["collections"]) == names
