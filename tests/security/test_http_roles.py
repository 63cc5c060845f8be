"""``/admin/roles``: roles on the store's ``_Role`` and their ``users`` relation, as master."""

from __future__ import annotations

import aiohttp

from tests.security.conftest import ADMIN, answer, sign_up


async def test_a_role_is_created_listed_and_deleted(http: aiohttp.ClientSession) -> None:
    status, role = await answer(await http.post("/admin/roles", json={"name": "staff"}, headers=ADMIN))
    assert status == 201
    assert (role["name"], role["users"]) == ("staff", [])
    _, listing = await answer(await http.get("/admin/roles", headers=ADMIN))
    assert [entry["name"] for entry in listing["roles"]] == ["staff"]
    status, deleted = await answer(await http.delete("/admin/roles/staff", headers=ADMIN))
    assert (status, deleted) == (200, {"deleted": True, "name": "staff"})
    _, listing = await answer(await http.get("/admin/roles", headers=ADMIN))
    assert listing == {"roles": []}


async def test_role_names_are_unique_and_valid(http: aiohttp.ClientSession) -> None:
    await http.post("/admin/roles", json={"name": "staff"}, headers=ADMIN)
    status, body = await answer(await http.post("/admin/roles", json={"name": "staff"}, headers=ADMIN))
    assert (status, body["code"]) == (400, 137)
    status, body = await answer(await http.post("/admin/roles", json={"name": "a/b"}, headers=ADMIN))
    assert (status, body["code"]) == (400, 139)
    status, body = await answer(await http.post("/admin/roles", json={}, headers=ADMIN))
    assert status == 400
    assert "name" in body["error"]


async def test_members_are_added_and_removed_and_unknowns_are_404(http: aiohttp.ClientSession) -> None:
    ann, _ = await sign_up(http, "ann")
    bob, _ = await sign_up(http, "bob")
    await http.post("/admin/roles", json={"name": "staff"}, headers=ADMIN)
    for user_id in (ann, bob, ann):  # adding twice changes nothing
        status, role = await answer(
            await http.post("/admin/roles/staff/users", json={"userId": user_id}, headers=ADMIN)
        )
        assert status == 200
    assert sorted(role["users"]) == sorted([ann, bob])
    status, role = await answer(await http.delete(f"/admin/roles/staff/users/{ann}", headers=ADMIN))
    assert (status, role["users"]) == (200, [bob])
    status, _ = await answer(
        await http.post("/admin/roles/staff/users", json={"userId": "nobody"}, headers=ADMIN)
    )
    assert status == 404
    status, body = await answer(await http.delete("/admin/roles/ghosts", headers=ADMIN))
    assert status == 404
    assert "ghosts" in body["error"]


async def test_a_membership_change_reaches_the_users_next_request(http: aiohttp.ClientSession) -> None:
    """Row ACLs naming a role follow membership: the store resolves roles on each request."""
    ann, user = await sign_up(http, "ann")
    await http.post("/admin/roles", json={"name": "staff"}, headers=ADMIN)
    acl = {"role:staff": {"read": True}}
    status, created = await answer(
        await http.post("/classes/Memo", json={"text": "hi", "ACL": acl}, headers=ADMIN)
    )
    assert status == 201
    memo = f"/classes/Memo/{created['objectId']}"
    assert (await http.get(memo, headers=user)).status == 404
    await http.post("/admin/roles/staff/users", json={"userId": ann}, headers=ADMIN)
    assert (await http.get(memo, headers=user)).status == 200
    await http.delete(f"/admin/roles/staff/users/{ann}", headers=ADMIN)
    assert (await http.get(memo, headers=user)).status == 404
