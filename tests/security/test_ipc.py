"""The security channels over the method table: argument arrays in, the HTTP routes' shapes out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sidecar.backends.manager import BackendManager
from sidecar.errors import InvalidSecurityPolicyError
from sidecar.ipc.handlers import register_security_methods
from tests.channels import Channels, backend_manager


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[BackendManager]:
    async with backend_manager(tmp_path) as managed:
        yield managed


@pytest.fixture
async def running(manager: BackendManager) -> str:
    backend_id = str(manager.create("Sec")["id"])
    await manager.start(backend_id, ephemeral=True)
    return backend_id


async def test_every_channel_says_the_backend_must_be_running(manager: BackendManager) -> None:
    channels = Channels(register_security_methods, manager)
    backend_id = str(manager.create("Stopped")["id"])
    calls: list[tuple[str, list[Any], str]] = [
        ("backend:getPermissions", [], "read its permissions"),
        ("backend:setPermissions", [{}], "change its permissions"),
        ("backend:setCollectionPermissions", ["Todo", {}], "change collection permissions"),
        ("backend:resetCollectionPermissions", ["Todo"], "reset collection permissions"),
        ("backend:checkAccess", [{"function": "f"}], "check access"),
        ("backend:listRoles", [], "list roles"),
        ("backend:createRole", ["staff"], "create a role"),
        ("backend:deleteRole", ["staff"], "delete a role"),
        ("backend:addRoleUser", ["staff", "u1"], "add a user to a role"),
        ("backend:removeRoleUser", ["staff", "u1"], "remove a user from a role"),
        ("backend:listApiKeys", [], "list API keys"),
        ("backend:createApiKey", ["ci", ["data:read"]], "create an API key"),
        ("backend:revokeApiKey", ["k1"], "revoke an API key"),
    ]
    assert sorted(name for name, _, _ in calls) == channels.table.names()
    for name, args, action in calls:
        with pytest.raises(Exception, match=f"^Backend must be running to {action}$"):
            await channels(name, backend_id, *args)


async def test_permissions_round_trip_and_apply(manager: BackendManager, running: str) -> None:
    channels = Channels(register_security_methods, manager)
    policy = await channels("backend:setCollectionPermissions", running, "Todo", {"create": {}})
    assert policy["collections"] == {"Todo": {"create": {}}}
    assert await channels("backend:getPermissions", running) == policy
    decision = await channels("backend:checkAccess", running, {"collection": "Todo", "operation": "create"})
    assert decision["allowed"] is False
    policy = await channels("backend:resetCollectionPermissions", running, "Todo")
    assert policy["collections"] == {}
    decision = await channels("backend:checkAccess", running, {"collection": "Todo", "operation": "create"})
    assert decision["allowed"] is True


async def test_roles_and_keys_over_the_channels(manager: BackendManager, running: str) -> None:
    channels = Channels(register_security_methods, manager)
    role = await channels("backend:createRole", running, "staff")
    assert (role["name"], role["users"]) == ("staff", [])
    assert [r["name"] for r in (await channels("backend:listRoles", running))["roles"]] == ["staff"]
    assert await channels("backend:deleteRole", running, "staff") == {"deleted": True, "name": "staff"}

    created = await channels("backend:createApiKey", running, "ci", ["data:read", "functions:hello"])
    assert created["key"].startswith("ngx_")
    listed = (await channels("backend:listApiKeys", running))["keys"]
    assert [key["objectId"] for key in listed] == [created["objectId"]]
    assert "key" not in listed[0]
    revoked = await channels("backend:revokeApiKey", running, created["objectId"])
    assert revoked["revoked"] is True
    assert revoked["revokedAt"] is not None


async def test_a_bad_policy_is_refused_with_its_problems(manager: BackendManager, running: str) -> None:
    channels = Channels(register_security_methods, manager)
    with pytest.raises(InvalidSecurityPolicyError) as raised:
        await channels("backend:setPermissions", running, {"functions": {"f": {"call": "all"}}})
    assert raised.value.rpc_code == -32602
    assert raised.value.problems == ["functions.f.call: must be public, authenticated, admin or role:<name>"]
