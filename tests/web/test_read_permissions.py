"""Class-level permissions over HTTP on every path that reads another class (ISSUE-15 reproduction 6):
``include``, subqueries, ``/batch`` sub-requests, ``/aggregate`` and realtime frames."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import ClientResponse

from sidecar.store import CallerContext, SqliteRecordStore
from tests.web.conftest import MASTER_KEY, Client, app_headers, master_headers
from tests.web.sse_client import SseReader

SIGNED_IN_ONLY = {"requiresAuthentication": True}
LOCKED_CLP: dict[str, Any] = {
    "find": SIGNED_IN_ONLY,
    "get": SIGNED_IN_ONLY,
    "count": SIGNED_IN_ONLY,
    "create": {},
    "update": {},
    "delete": {},
    "addField": {},
    "protectedFields": {"*": ["salary"]},
}
FORBIDDEN_GET = {"code": 119, "error": "Permission denied for action get on class Secret."}
FORBIDDEN_FIND = {"code": 119, "error": "Permission denied for action find on class Secret."}
IN_SECRET = {"ptr": {"$inQuery": {"className": "Secret", "where": {"code": "hunter2"}}}}


@pytest.fixture
async def secret_id(store: SqliteRecordStore) -> str:
    """``Secret`` (readable by signed-in users only) with one row, and public ``Pub`` pointing at it."""
    master = CallerContext.master()
    await store.create_class("Secret", {"classLevelPermissions": LOCKED_CLP})
    secret = await store.create("Secret", {"code": "hunter2", "salary": 90000}, master)
    pointer = {"__type": "Pointer", "className": "Secret", "objectId": secret.object_id}
    await store.create("Pub", {"title": "hello", "ptr": pointer}, master)
    return secret.object_id


async def session_of(client: Client, name: str) -> str:
    signup = await client.post("/users", json={"username": name, "password": "pw"}, headers=app_headers())
    assert signup.status == 201, await signup.text()
    token: str = (await signup.json())["sessionToken"]
    return token


async def answer(response: ClientResponse) -> tuple[int, Any]:
    return response.status, await response.json()


async def test_anonymous_include_of_a_class_that_needs_sign_in_is_refused(
    client: Client, secret_id: str
) -> None:
    """Reproduction 6: ``GET /classes/Pub?include=ptr`` without credentials returned the Secret object."""
    assert await answer(await client.get("/classes/Pub?include=ptr", headers=app_headers())) == (
        403,
        FORBIDDEN_GET,
    )
    as_post = await client.post(
        "/classes/Pub", json={"_method": "GET", "include": "ptr"}, headers=app_headers()
    )
    assert await answer(as_post) == (403, FORBIDDEN_GET)
    token = await session_of(client, "ann")
    status, body = await answer(
        await client.get("/classes/Pub?include=ptr", headers=app_headers(**{"X-Parse-Session-Token": token}))
    )
    assert status == 200
    assert body["results"][0]["ptr"]["code"] == "hunter2"
    assert "salary" not in body["results"][0]["ptr"]
    status, body = await answer(await client.get("/classes/Pub?include=ptr", headers=master_headers()))
    assert (status, body["results"][0]["ptr"]["salary"]) == (200, 90000)


async def test_subqueries_on_a_class_that_needs_sign_in_are_no_oracle(client: Client, secret_id: str) -> None:
    where = f"/classes/Pub?where={_json(IN_SECRET)}"
    assert await answer(await client.get(where, headers=app_headers())) == (403, FORBIDDEN_FIND)
    select = {"title": {"$select": {"query": {"className": "Secret", "where": {}}, "key": "code"}}}
    selected = await client.get(f"/classes/Pub?where={_json(select)}", headers=app_headers())
    assert await answer(selected) == (403, FORBIDDEN_FIND)
    token = await session_of(client, "ann")
    status, body = await answer(
        await client.get(where, headers=app_headers(**{"X-Parse-Session-Token": token}))
    )
    assert (status, len(body["results"])) == (200, 1)


async def test_batch_sub_requests_apply_the_same_permissions(client: Client, secret_id: str) -> None:
    requests = [
        {"method": "GET", "path": "/classes/Secret", "body": {}},
        {"method": "GET", "path": f"/classes/Secret/{secret_id}", "body": {}},
        {"method": "GET", "path": "/classes/Pub", "body": {"include": "ptr"}},
        {"method": "GET", "path": "/classes/Pub", "body": {"where": IN_SECRET}},
        {"method": "GET", "path": "/classes/Pub", "body": {"where": {"title": "hello"}}},
    ]
    status, items = await answer(
        await client.post("/batch", json={"requests": requests}, headers=app_headers())
    )
    assert status == 200
    assert [item.get("error", {}).get("code") for item in items] == [119, 119, 119, 119, None]
    assert items[2]["error"] == FORBIDDEN_GET
    assert len(items[4]["success"]["results"]) == 1
    token = await session_of(client, "ann")
    as_ann = app_headers(**{"X-Parse-Session-Token": token})
    status, items = await answer(await client.post("/batch", json={"requests": requests}, headers=as_ann))
    assert status == 200
    assert all("success" in item for item in items), items
    assert items[2]["success"]["results"][0]["ptr"]["code"] == "hunter2"
    status, items = await answer(
        await client.post("/batch", json={"requests": requests}, headers=master_headers())
    )
    assert all("success" in item for item in items), items


async def test_aggregate_applies_the_permissions_of_every_class_it_reads(
    client: Client, secret_id: str
) -> None:
    group = json.dumps({"_id": None, "n": {"$sum": 1}})
    counted = {"$match": json.dumps(IN_SECRET), "$group": group}
    assert await answer(await client.get("/aggregate/Pub", params=counted, headers=app_headers())) == (
        403,
        FORBIDDEN_FIND,
    )
    on_secret = await client.get("/aggregate/Secret", params={"$group": group}, headers=app_headers())
    assert await answer(on_secret) == (403, FORBIDDEN_FIND)
    token = await session_of(client, "ann")
    expected = (200, {"results": [{"objectId": None, "n": 1}]})
    for headers in (app_headers(**{"X-Parse-Session-Token": token}), master_headers()):
        assert await answer(await client.get("/aggregate/Pub", params=counted, headers=headers)) == expected


def _json(value: Any) -> str:
    return quote(json.dumps(value))


# ---- realtime ---------------------------------------------------------------------------------------------


@pytest.fixture
async def streams() -> AsyncIterator[list[ClientResponse]]:
    opened: list[ClientResponse] = []
    yield opened
    for response in opened:
        response.close()


async def subscribed(
    client: Client, streams: list[ClientResponse], subscriptions: list[dict[str, Any]], query: str = ""
) -> SseReader:
    response = await client.get(f"/realtime{query}", headers={"Accept": "text/event-stream"})
    assert response.status == 200
    streams.append(response)
    reader = SseReader(response)
    connected = await reader.next_event()
    body = {"clientId": connected.data["clientId"], "subscriptions": subscriptions}
    accepted = await client.post("/realtime/subscriptions", json=body)
    assert (await accepted.json())["rejected"] == []
    return reader


async def next_change(reader: SseReader) -> dict[str, Any]:
    frame = await reader.next_event()
    assert frame.event == "change", frame
    record: dict[str, Any] = frame.data["record"]
    return record


async def test_realtime_frames_follow_the_class_permissions_at_the_time_of_the_change(
    client: Client, store: SqliteRecordStore, streams: list[ClientResponse]
) -> None:
    """A subscription made while a class was open stops receiving its changes once the class needs sign-in;
    protectedFields never reach a subscriber, and a filter on one never matches."""
    master = CallerContext.master()
    await store.create_class("Report", {})
    token = await session_of(client, "ann")
    report, both = [{"collection": "Report"}], [{"collection": "Report"}, {"collection": "Open"}]
    anonymous = await subscribed(client, streams, both)
    signed_in = await subscribed(client, streams, report, f"?sessionToken={token}")
    admin = await subscribed(client, streams, report, f"?authToken={MASTER_KEY}")
    await store.update_class("Report", {"classLevelPermissions": LOCKED_CLP})

    await store.create("Report", {"title": "q3", "salary": 1}, master)
    await store.create("Open", {"title": "after"}, master)
    assert (await next_change(anonymous))["title"] == "after"  # the Report frame was withheld
    seen = await next_change(signed_in)
    assert (seen["title"], "salary" in seen) == ("q3", False)
    assert (await next_change(admin))["salary"] == 1


async def test_a_realtime_filter_on_a_protected_field_never_matches(
    client: Client, store: SqliteRecordStore, streams: list[ClientResponse]
) -> None:
    master = CallerContext.master()
    await store.create_class("Report", {"classLevelPermissions": {"protectedFields": {"*": ["salary"]}}})
    rich: list[dict[str, Any]] = [
        {"collection": "Report", "filter": {"salary": {"$gt": 50000}}},
        {"collection": "Open"},
    ]
    reader = await subscribed(client, streams, rich)
    admin = await subscribed(client, streams, rich, f"?authToken={MASTER_KEY}")
    await store.create("Report", {"title": "rich", "salary": 90000}, master)
    await store.create("Open", {"title": "after"}, master)
    assert (await next_change(reader))["title"] == "after"
    assert (await next_change(admin))["title"] == "rich"
