"""Account takeover by forging sessions (issue 15, reproduction 1), on every door of a live backend.

Each attack plants ``r:attacker`` as a session of the victim and then tries it on ``/users/me``; none
may succeed. The legitimate flows (signup, login, ``/users/me``, ``/sessions/me``, logout) keep working,
and ``local.db`` holds no session token in plaintext.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import aiohttp

from sidecar.backends.backend import Backend
from tests.security.conftest import ADMIN, APP, answer, sign_up

FORGED = "r:attacker"


def forged_body(victim_id: str) -> dict[str, Any]:
    return {
        "sessionToken": FORGED,
        "user": {"__type": "Pointer", "className": "_User", "objectId": victim_id},
        "expiresAt": {"__type": "Date", "iso": "2099-01-01T00:00:00.000Z"},
        "createdWith": {"action": "login", "authProvider": "password"},
    }


async def forged_token_is_refused(http: aiohttp.ClientSession) -> None:
    status, body = await answer(await http.get("/users/me", headers={**APP, "X-Parse-Session-Token": FORGED}))
    assert (status, body["code"]) == (400, 209), body


async def test_a_text_plain_post_to_api_session_without_an_app_id_is_refused(
    http: aiohttp.ClientSession,
) -> None:
    victim, _ = await sign_up(http, "victim")
    status, body = await answer(
        await http.post(
            "/api/_Session",
            data=json.dumps(forged_body(victim)),
            headers={"Content-Type": "text/plain"},
        )
    )
    assert status == 403, body
    await forged_token_is_refused(http)


async def test_api_session_needs_what_classes_needs(http: aiohttp.ClientSession) -> None:
    victim, _ = await sign_up(http, "victim")
    status, body = await answer(await http.post("/api/_Session", json=forged_body(victim), headers=APP))
    assert (status, body["code"], body["error"]) == (400, 209, "Session token required.")
    assert (await http.get("/api/_Session")).status == 403  # no application id: as /classes answers
    status, body = await answer(await http.get("/api/_Session", headers=APP))
    assert (status, body["code"]) == (400, 209)
    await forged_token_is_refused(http)


async def test_a_signed_in_caller_creating_a_session_gets_one_for_itself_only(
    http: aiohttp.ClientSession,
) -> None:
    victim, _ = await sign_up(http, "victim")
    attacker, as_attacker = await sign_up(http, "attacker")
    for path in ("/classes/_Session", "/sessions", "/api/_Session"):
        status, created = await answer(await http.post(path, json=forged_body(victim), headers=as_attacker))
        assert status == 201, (path, created)
        assert created["user"]["objectId"] == attacker
        assert created["sessionToken"] != FORGED
        assert created["sessionToken"].startswith("r:")
        assert created["createdWith"] == {"action": "create"}
        own = {**APP, "X-Parse-Session-Token": created["sessionToken"]}
        _, me = await answer(await http.get("/users/me", headers=own))
        assert me["objectId"] == attacker
    await forged_token_is_refused(http)


async def test_an_anonymous_post_to_classes_session_with_the_app_id_is_209(
    http: aiohttp.ClientSession,
) -> None:
    victim, _ = await sign_up(http, "victim")
    status, body = await answer(await http.post("/classes/_Session", json=forged_body(victim), headers=APP))
    assert (status, body["code"]) == (400, 209)
    await forged_token_is_refused(http)


async def test_an_acl_on_a_new_session_is_105(http: aiohttp.ClientSession) -> None:
    _, as_user = await sign_up(http, "ann")
    body = {"ACL": {"*": {"read": True, "write": True}}}
    status, answered = await answer(await http.post("/classes/_Session", json=body, headers=as_user))
    assert (status, answered["code"]) == (400, 105)


async def test_a_user_cannot_repoint_or_retoken_its_own_session(http: aiohttp.ClientSession) -> None:
    victim, _ = await sign_up(http, "victim")
    attacker, as_attacker = await sign_up(http, "attacker")
    _, mine = await answer(await http.get("/sessions/me", headers=as_attacker))
    victim_pointer = {"__type": "Pointer", "className": "_User", "objectId": victim}
    changes: list[dict[str, Any]] = [
        {"user": victim_pointer},
        {"sessionToken": FORGED},
        {"installationId": "abc"},
        {"expiresAt": {"__type": "Date", "iso": "2099-01-01T00:00:00.000Z"}},
        {"createdWith": {"action": "signup"}},
        {"createdWith.action": "signup"},
        {"user": {"__op": "Delete"}},
    ]
    for path in (f"/classes/_Session/{mine['objectId']}", f"/sessions/{mine['objectId']}"):
        for change in changes:
            status, body = await answer(await http.put(path, json=change, headers=as_attacker))
            assert (status, body["code"]) == (400, 105), (path, change, body)
    status, body = await answer(
        await http.put(
            f"/api/_Session/{mine['objectId']}", json={"user": victim_pointer}, headers=as_attacker
        )
    )
    assert (status, body["code"]) == (400, 105)
    _, me = await answer(await http.get("/users/me", headers=as_attacker))
    assert me["objectId"] == attacker  # the session still belongs to the attacker
    await forged_token_is_refused(http)


async def test_batches_cannot_create_sessions_for_someone_else(http: aiohttp.ClientSession) -> None:
    victim, _ = await sign_up(http, "victim")
    attacker, as_attacker = await sign_up(http, "attacker")
    item = {"method": "POST", "path": "/classes/_Session", "body": forged_body(victim)}
    status, results = await answer(await http.post("/batch", json={"requests": [item]}, headers=APP))
    assert status == 200
    assert results[0]["error"]["code"] == 209
    status, results = await answer(await http.post("/batch", json={"requests": [item]}, headers=as_attacker))
    assert status == 200
    assert results[0]["success"]["user"]["objectId"] == attacker
    api_item = {"method": "POST", "path": "/api/_Session", "body": forged_body(victim)}
    status, body = await answer(await http.post("/api/_batch", json={"requests": [api_item]}, headers=APP))
    assert status == 200
    assert body["results"][0]["code"] == 209
    assert (await http.post("/api/_batch", json={"requests": [api_item]})).status == 403
    await forged_token_is_refused(http)


async def test_a_user_reads_and_deletes_only_its_own_sessions(http: aiohttp.ClientSession) -> None:
    victim, as_victim = await sign_up(http, "victim")
    attacker, as_attacker = await sign_up(http, "attacker")
    _, victims = await answer(await http.get("/sessions/me", headers=as_victim))
    for path in ("/classes/_Session", "/sessions", "/api/_Session"):
        status, found = await answer(await http.get(path, headers=as_attacker))
        assert status == 200, found
        assert {s["user"]["objectId"] for s in found["results"]} == {attacker}
    where = f'{{"user":{{"__type":"Pointer","className":"_User","objectId":"{victim}"}}}}'
    _, counted = await answer(
        await http.get("/classes/_Session", params={"where": where, "count": "1"}, headers=as_attacker)
    )
    assert (counted["results"], counted["count"]) == ([], 0)
    for path in (f"/classes/_Session/{victims['objectId']}", f"/sessions/{victims['objectId']}"):
        status, body = await answer(await http.get(path, headers=as_attacker))
        assert (status, body["code"]) == (404, 101)
        status, body = await answer(await http.delete(path, headers=as_attacker))
        assert (status, body["code"]) == (404, 101)
    status, body = await answer(await http.get("/classes/_Session", headers=APP))
    assert (status, body["code"]) == (400, 209)
    _, me = await answer(await http.get("/users/me", headers=as_victim))
    assert me["objectId"] == victim  # the victim's session survived every attempt


async def test_a_subquery_on_sessions_sees_only_the_callers_own(http: aiohttp.ClientSession) -> None:
    """Even a session the master made publicly readable is no oracle through $inQuery/$select."""
    victim, _ = await sign_up(http, "victim")
    _, as_attacker = await sign_up(http, "attacker")
    public = {**forged_body(victim), "sessionToken": "r:" + "cd" * 16, "ACL": {"*": {"read": True}}}
    status, made = await answer(await http.post("/classes/_Session", json=public, headers=ADMIN))
    assert status == 201, made
    status, _ = await answer(await http.post("/classes/Probe", json={"sid": made["objectId"]}, headers=APP))
    assert status == 201
    victim_pointer = {"__type": "Pointer", "className": "_User", "objectId": victim}
    subquery = {"className": "_Session", "where": {"user": victim_pointer}}
    for where in (
        {"sid": {"$select": {"query": subquery, "key": "objectId"}}},
        {"sid": {"$exists": True}, "$or": [{"sid": {"$select": {"query": subquery, "key": "objectId"}}}]},
    ):
        status, found = await answer(
            await http.get("/classes/Probe", params={"where": json.dumps(where)}, headers=as_attacker)
        )
        assert (status, found["results"]) == (200, [])
    selected = json.dumps({"sid": {"$select": {"query": subquery, "key": "objectId"}}})
    _, by_master = await answer(await http.get("/classes/Probe", params={"where": selected}, headers=ADMIN))
    assert len(by_master["results"]) == 1  # the rows exist: only the caller's scope hides them


async def test_the_master_key_may_mint_a_session_with_its_own_token(http: aiohttp.ClientSession) -> None:
    """Noodl's ``impersonate`` posts a token of its choosing to ``/classes/_Session`` as master."""
    user, _ = await sign_up(http, "ann")
    body = {
        **forged_body(user),
        "sessionToken": "r:" + "ab" * 16,
        "installationId": "i1",
        "restricted": False,
    }
    status, created = await answer(await http.post("/classes/_Session", json=body, headers=ADMIN))
    assert status == 201, created
    as_impersonated = {**APP, "X-Parse-Session-Token": "r:" + "ab" * 16}
    _, me = await answer(await http.get("/users/me", headers=as_impersonated))
    assert me["objectId"] == user


async def test_signup_login_me_sessions_me_and_logout_still_work(
    http: aiohttp.ClientSession, backend: Backend
) -> None:
    user, as_signed_up = await sign_up(http, "ann")
    status, logged_in = await answer(
        await http.post("/login", json={"username": "ann", "password": "pw-123456"}, headers=APP)
    )
    assert status == 200
    assert logged_in["objectId"] == user
    token = logged_in["sessionToken"]
    as_user = {**APP, "X-Parse-Session-Token": token}
    _, me = await answer(await http.get("/users/me", headers=as_user))
    assert (me["objectId"], me["sessionToken"]) == (user, token)
    _, session = await answer(await http.get("/sessions/me", headers=as_user))
    assert (session["sessionToken"], session["user"]["objectId"]) == (token, user)
    assert session["createdWith"] == {"action": "login", "authProvider": "password"}
    _, fetched = await answer(await http.get(f"/users/{user}", headers=as_user))
    assert fetched["sessionToken"] == token  # one's own user echoes the token presented, as in Parse
    stored = stored_tokens(backend)
    assert len(stored) == 2
    assert not any(value.startswith("r:") for value in stored)
    assert token not in stored
    assert as_signed_up["X-Parse-Session-Token"] not in stored
    assert (await http.post("/logout", headers=as_user)).status == 200
    status, body = await answer(await http.get("/users/me", headers=as_user))
    assert (status, body["code"]) == (400, 209)
    _, still = await answer(await http.get("/users/me", headers=as_signed_up))
    assert still["objectId"] == user


def stored_tokens(backend: Backend) -> list[str]:
    with sqlite3.connect(backend.spec.data_dir / "data" / "local.db") as db:
        return [row[0] for row in db.execute('SELECT "sessionToken" FROM "_Session"')]


async def test_api_and_classes_answer_every_credential_alike(http: aiohttp.ClientSession) -> None:
    """The two doors resolve callers with the same function and count failed credentials in one limiter:
    the same status for the same credentials, down to the 429 once a client has failed too often."""
    _, as_user = await sign_up(http, "ann")
    private = {"classLevelPermissions": {"find": {"requiresAuthentication": True}, "create": {}}}
    assert (await http.post("/schemas/Locked", json=private, headers=ADMIN)).status in (200, 201)
    credentials: list[dict[str, str]] = [
        {},
        {"X-Parse-Application-Id": "some-other-app"},
        APP,
        {**APP, "X-Parse-Session-Token": FORGED},
        {**APP, "X-Parse-Master-Key": "wrong"},
        {"X-NodeGX-Api-Key": "ngx_unknown"},
        as_user,
        ADMIN,
    ]
    for headers in credentials:
        for table in ("Locked", "Open"):
            for method, body in (("GET", None), ("POST", {"n": 1})):
                on_classes = await http.request(method, f"/classes/{table}", json=body, headers=headers)
                on_api = await http.request(method, f"/api/{table}", json=body, headers=headers)
                seen = (table, method, headers, on_classes.status, on_api.status)
                assert on_api.status == on_classes.status, seen


async def test_an_api_key_acting_as_a_user_cannot_mint_a_session(http: aiohttp.ClientSession) -> None:
    """A session would escape the key's scopes (a key without a function scope could call functions)."""
    user, _ = await sign_up(http, "ann")
    body = {"name": "writer", "scopes": ["data:read", "data:write"], "actsAsUserId": user}
    status, key = await answer(await http.post("/admin/keys", json=body, headers=ADMIN))
    assert status == 201, key
    for path in ("/classes/_Session", "/api/_Session"):
        status, refused = await answer(
            await http.post(path, json={}, headers={"X-NodeGX-Api-Key": key["key"]})
        )
        assert (status, refused["code"]) == (400, 209), (path, refused)
