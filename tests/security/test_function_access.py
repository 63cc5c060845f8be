"""Who may call a cloud function (contract §4.4 steps 3 and 6): keys, security.json rules, devOpen,
the Request node's allowNoAuth, and the per-function timeout."""

from __future__ import annotations

import copy
import json
from typing import Any

import aiohttp
import pytest

from tests.conftest import PROJECT_ROOT
from tests.security.conftest import ADMIN, APP, answer, sign_up

HELLO: dict[str, Any] = json.loads((PROJECT_ROOT / "examples" / "hello.workflow.json").read_text())


def hello(*, allow_no_auth: bool = True, responds: bool = True) -> dict[str, Any]:
    bundle = copy.deepcopy(HELLO)
    component = bundle["components"][0]
    component["nodes"][0]["parameters"]["allowNoAuth"] = allow_no_auth
    if not responds:
        component["connections"] = [c for c in component["connections"] if c["targetPort"] != "send"]
    return bundle


@pytest.fixture
async def deploy(http: aiohttp.ClientSession) -> Any:
    async def put(bundle: dict[str, Any]) -> None:
        assert (await http.put("/admin/workflows/hello", json=bundle, headers=ADMIN)).status == 200

    return put


async def call(http: aiohttp.ClientSession, headers: dict[str, str]) -> tuple[int, Any]:
    return await answer(await http.post("/functions/hello", json={"name": "Ann"}, headers=headers))


async def set_rule(http: aiohttp.ClientSession, rule: dict[str, Any], dev_open: bool = False) -> None:
    policy = {"devOpen": dev_open, "functions": {"hello": rule}}
    assert (await http.put("/admin/permissions", json=policy, headers=ADMIN)).status == 200


async def enforce(http: aiohttp.ClientSession) -> None:
    """Leave the local dev-open default: the policy the gate applies in production."""
    assert (await http.put("/admin/permissions", json={"devOpen": False}, headers=ADMIN)).status == 200


async def test_without_a_rule_the_request_node_decides(http: aiohttp.ClientSession, deploy: Any) -> None:
    await enforce(http)
    await deploy(hello(allow_no_auth=True))
    assert (await call(http, APP))[0] == 200
    await deploy(hello(allow_no_auth=False))
    status, body = await call(http, APP)
    assert (status, body["code"]) == (403, 119)


async def test_an_authenticated_rule_lets_signed_in_users_through(
    http: aiohttp.ClientSession, deploy: Any
) -> None:
    await deploy(hello(allow_no_auth=True))
    await set_rule(http, {"call": "authenticated"})
    assert (await call(http, APP))[0] == 403
    _, user = await sign_up(http, "ann")
    assert (await call(http, user))[0] == 200


async def test_a_role_rule_needs_the_role(http: aiohttp.ClientSession, deploy: Any) -> None:
    await deploy(hello(allow_no_auth=True))
    await set_rule(http, {"call": "role:staff"})
    user_id, user = await sign_up(http, "ann")
    status, body = await call(http, user)
    assert status == 403
    assert "staff" in body["error"]
    await http.post("/admin/roles", json={"name": "staff"}, headers=ADMIN)
    await http.post("/admin/roles/staff/users", json={"userId": user_id}, headers=ADMIN)
    assert (await call(http, user))[0] == 200


async def test_an_admin_rule_refuses_everyone_but_the_admin(http: aiohttp.ClientSession, deploy: Any) -> None:
    await deploy(hello(allow_no_auth=True))
    await set_rule(http, {"call": "admin"})
    _, user = await sign_up(http, "ann")
    assert (await call(http, user))[0] == 403
    assert (await call(http, ADMIN))[0] == 200


async def test_dev_open_lets_anyone_call(http: aiohttp.ClientSession, deploy: Any) -> None:
    await deploy(hello(allow_no_auth=True))
    await set_rule(http, {"call": "admin"}, dev_open=True)
    assert (await call(http, APP))[0] == 200
    await set_rule(http, {"call": "admin"}, dev_open=False)
    assert (await call(http, APP))[0] == 403


async def test_a_key_needs_a_function_scope(http: aiohttp.ClientSession, deploy: Any) -> None:
    await deploy(hello(allow_no_auth=True))

    async def key(scopes: list[str]) -> dict[str, str]:
        _, created = await answer(
            await http.post("/admin/keys", json={"name": "k", "scopes": scopes}, headers=ADMIN)
        )
        return {"X-NodeGX-Api-Key": created["key"]}

    status, body = await call(http, await key(["data:read"]))
    assert (status, body["code"]) == (403, 119)
    assert "functions:hello" in body["error"]
    assert (await call(http, await key(["functions:hello"])))[0] == 200
    assert (await call(http, await key(["functions:call"])))[0] == 200
    assert (await call(http, await key(["functions:other"])))[0] == 403


async def test_check_access_explains_a_function_decision(http: aiohttp.ClientSession, deploy: Any) -> None:
    await enforce(http)
    await deploy(hello(allow_no_auth=False))
    status, body = await answer(
        await http.post("/admin/permissions/check", json={"function": "hello"}, headers=ADMIN)
    )
    assert status == 200
    assert body["allowed"] is False
    assert "signed-in" in body["reason"]
    user_id, _ = await sign_up(http, "ann")
    _, body = await answer(
        await http.post(
            "/admin/permissions/check", json={"function": "hello", "userId": user_id}, headers=ADMIN
        )
    )
    assert body["allowed"] is True


async def test_a_function_timeout_from_security_json_stops_the_run(
    http: aiohttp.ClientSession, deploy: Any
) -> None:
    await deploy(hello(allow_no_auth=True, responds=False))
    await set_rule(http, {"timeoutMs": 150})
    status, body = await call(http, APP)
    assert status == 504
    assert (body["code"], body["timeoutMs"]) == ("function/timeout", 150)
