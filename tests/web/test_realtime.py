"""Realtime over SSE (contract §7): frames, subscriptions, filters, ACL per subscriber, resync."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientResponse, ClientSession

from tests.web.conftest import MASTER_KEY, Client, MakeClient, app_headers, master_headers
from tests.web.sse_client import SseFrame, SseReader

STREAM = {"Accept": "text/event-stream"}


class Subscriber:
    def __init__(self, client: Client, response: ClientResponse, client_id: str) -> None:
        self.client = client
        self.reader = SseReader(response)
        self.client_id = client_id

    async def subscribe(self, *subscriptions: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(
            "/realtime/subscriptions", json={"clientId": self.client_id, "subscriptions": list(subscriptions)}
        )
        assert response.status == 200, await response.text()
        result: dict[str, Any] = await response.json()
        return result

    async def change(self, wait_seconds: float = 2.0) -> SseFrame:
        frame = await self.reader.next_event(wait_seconds)
        assert frame.event == "change", frame
        return frame


@pytest.fixture
async def opened(client: Client) -> AsyncIterator[list[ClientResponse]]:
    responses: list[ClientResponse] = []
    yield responses
    for response in responses:
        response.close()


async def connect(
    client: Client, opened: list[ClientResponse], query: str = "", **headers: str
) -> Subscriber:
    response = await client.get(f"/realtime{query}", headers={**STREAM, **headers})
    assert response.status == 200
    opened.append(response)
    reader = SseReader(response)
    first = await reader.next_event()
    assert first.event == "connected"
    subscriber = Subscriber(client, response, first.data["clientId"])
    subscriber.reader = reader
    return subscriber


async def as_admin(client: Client, opened: list[ClientResponse]) -> Subscriber:
    return await connect(client, opened, **{"Authorization": f"Bearer {MASTER_KEY}"})


async def create(client: Client, class_name: str, body: dict[str, Any], **headers: str) -> str:
    response = await client.post(f"/classes/{class_name}", json=body, headers=app_headers(**headers))
    assert response.status == 201, await response.text()
    object_id: str = (await response.json())["objectId"]
    return object_id


async def test_the_stream_opens_with_headers_and_a_connected_frame(client: Client) -> None:
    response = await client.get("/realtime", headers=STREAM)
    try:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["Cache-Control"] == "no-cache, no-transform"
        assert response.headers["X-Accel-Buffering"] == "no"
        first = await SseReader(response).next_event()
        assert (first.event, first.frame_id) == ("connected", 1)
        assert isinstance(first.data["clientId"], str)
    finally:
        response.close()


async def test_without_the_sse_accept_header_the_route_answers_a_json_hint(client: Client) -> None:
    response = await client.get("/realtime")
    assert "hint" in await response.json()


async def test_create_update_delete_arrive_in_order_with_full_records(
    client: Client, opened: list[ClientResponse]
) -> None:
    subscriber = await as_admin(client, opened)
    assert (await subscriber.subscribe({"collection": "Game"}))["rejected"] == []
    object_id = await create(client, "Game", {"score": 1, "name": "x"})
    await client.put(f"/classes/Game/{object_id}", json={"score": 2}, headers=app_headers())
    await client.delete(f"/classes/Game/{object_id}", headers=app_headers())

    created, updated, deleted = [await subscriber.change() for _ in range(3)]
    assert created.data["action"] == "create"
    assert created.data["collection"] == "Game"
    assert created.data["record"]["name"] == "x"
    assert updated.data["action"] == "update"
    assert (updated.data["record"]["score"], updated.data["record"]["name"]) == (2, "x")
    assert deleted.data["action"] == "delete"
    assert deleted.data["record"]["objectId"] == object_id
    assert deleted.data["record"]["score"] == 2, "a delete carries the row as it was"
    ids = [frame.frame_id or 0 for frame in (created, updated, deleted)]
    assert ids[0] > 1, "the connected frame came first"
    assert ids[0] < ids[1] < ids[2]


async def test_a_change_arrives_within_50_ms(client: Client, opened: list[ClientResponse]) -> None:
    subscriber = await as_admin(client, opened)
    await subscriber.subscribe({"collection": "Fast"})
    started = time.perf_counter()
    await create(client, "Fast", {"n": 1})
    await subscriber.change()
    assert time.perf_counter() - started < 0.05


async def test_a_filtered_subscription_sees_only_matching_rows(
    client: Client, opened: list[ClientResponse]
) -> None:
    subscriber = await as_admin(client, opened)
    await subscriber.subscribe({"collection": "Game", "filter": {"score": {"$gte": 10}, "tags": "red"}})
    await create(client, "Game", {"score": 5, "tags": ["red"], "name": "low"})
    await create(client, "Other", {"score": 50, "tags": ["red"], "name": "other class"})
    await create(client, "Game", {"score": 50, "tags": ["blue"], "name": "blue"})
    await create(client, "Game", {"score": 50, "tags": ["red", "x"], "name": "match"})
    frame = await subscriber.change()
    assert frame.data["record"]["name"] == "match"
    with pytest.raises(TimeoutError):
        await subscriber.reader.next_event(wait_seconds=0.2)


async def test_a_rolled_back_write_is_never_seen(client: Client, opened: list[ClientResponse]) -> None:
    subscriber = await as_admin(client, opened)
    await subscriber.subscribe({"collection": "Game"})
    requests = [
        {"method": "POST", "path": "/classes/Game", "body": {"score": 1, "name": "rolled back"}},
        {"method": "POST", "path": "/classes/Game", "body": {"score": "not a number"}},
    ]
    failed = await client.post(
        "/batch", json={"requests": requests, "transaction": True}, headers=app_headers()
    )
    assert failed.status == 400
    await create(client, "Game", {"score": 2, "name": "committed"})
    frame = await subscriber.change()
    assert frame.data["record"]["name"] == "committed"


async def test_each_subscriber_sees_only_rows_its_acl_lets_it_read(
    client: Client, opened: list[ClientResponse]
) -> None:
    signup = await client.post("/users", json={"username": "u1", "password": "pw"}, headers=app_headers())
    user = await signup.json()
    owner = await connect(client, opened, query=f"?sessionToken={user['sessionToken']}")
    anonymous = await connect(client, opened)
    for subscriber in (owner, anonymous):
        assert (await subscriber.subscribe({"collection": "Note"}))["accepted"] == [{"collection": "Note"}]
    private = {"text": "mine", "ACL": {user["objectId"]: {"read": True, "write": True}}}
    await create(client, "Note", private, **{"X-Parse-Session-Token": user["sessionToken"]})
    await create(client, "Note", {"text": "public"})
    assert (await owner.change()).data["record"]["text"] == "mine"
    assert (await owner.change()).data["record"]["text"] == "public"
    assert (await anonymous.change()).data["record"]["text"] == "public"


async def test_subscriptions_replace_the_whole_set(client: Client, opened: list[ClientResponse]) -> None:
    subscriber = await as_admin(client, opened)
    await subscriber.subscribe({"collection": "A"})
    await subscriber.subscribe({"collection": "B"})
    await create(client, "A", {"n": 1})
    await create(client, "B", {"n": 2})
    frame = await subscriber.change()
    assert frame.data["collection"] == "B"


async def test_filters_the_realtime_door_cannot_evaluate_are_rejected_by_name(
    client: Client, opened: list[ClientResponse]
) -> None:
    subscriber = await as_admin(client, opened)
    pointer = {"__type": "Pointer", "className": "Team", "objectId": "t1"}
    result = await subscriber.subscribe(
        {"collection": "Ok", "filter": {"n": {"$in": [1, 2]}}},
        {"collection": "Rel", "filter": {"$relatedTo": {"object": pointer, "key": "members"}}},
        {"collection": "Geo", "filter": {"at": {"$nearSphere": {"__type": "GeoPoint"}}}},
        {"collection": "Bad", "filter": {"n": {"$bogus": 1}}},
    )
    assert result["accepted"] == [{"collection": "Ok", "filter": {"n": {"$in": [1, 2]}}}]
    assert [entry["collection"] for entry in result["rejected"]] == ["Rel", "Geo", "Bad"]
    assert all(entry["reason"] for entry in result["rejected"])


async def test_a_collection_whose_find_permission_is_denied_is_rejected(
    client: Client, opened: list[ClientResponse]
) -> None:
    made = await client.post(
        "/schemas/Locked", json={"classLevelPermissions": {"find": {}, "get": {}}}, headers=master_headers()
    )
    assert made.status == 200, await made.text()
    subscriber = await connect(client, opened)
    result = await subscriber.subscribe({"collection": "Locked"})
    assert result["accepted"] == []
    assert result["rejected"][0]["collection"] == "Locked"


async def test_an_unknown_client_id_is_404(client: Client) -> None:
    response = await client.post("/realtime/subscriptions", json={"clientId": "nope", "subscriptions": []})
    assert response.status == 404


async def test_a_reconnect_with_last_event_id_is_told_to_resync(
    client: Client, opened: list[ClientResponse]
) -> None:
    response = await client.get("/realtime", headers={**STREAM, "Last-Event-ID": "41"})
    opened.append(response)
    reader = SseReader(response)
    first, second = await reader.next_event(), await reader.next_event()
    assert first.event == "connected"
    assert (second.event, second.data, second.frame_id) == ("resync", {"reason": "reconnect"}, 2)


async def test_a_bad_stream_credential_is_refused(client: Client) -> None:
    response = await client.get("/realtime?authToken=wrong", headers=STREAM)
    assert response.status == 401
    expired = await client.get("/realtime?token=r:unknown", headers=STREAM)
    assert (expired.status, (await expired.json())["code"]) == (400, 209)


async def test_idle_streams_get_heartbeat_comments(make_client: MakeClient) -> None:
    client = await make_client(heartbeat_seconds=0.05)
    response = await client.get("/realtime", headers=STREAM)
    try:
        reader = SseReader(response)
        assert (await reader.next()).event == "connected"
        heartbeat = await reader.next(wait_seconds=1.0)
        assert heartbeat.comment is not None
    finally:
        response.close()


async def test_a_slow_client_that_overflows_gets_a_resync(make_client: MakeClient) -> None:
    client = await make_client(realtime_queue_size=3)
    response = await client.get("/realtime", headers={**STREAM, "Authorization": f"Bearer {MASTER_KEY}"})
    try:
        reader = SseReader(response)
        connected = await reader.next_event()
        subscriber = Subscriber(client, response, connected.data["clientId"])
        subscriber.reader = reader
        await subscriber.subscribe({"collection": "Flood"})
        requests = [{"method": "POST", "path": "/classes/Flood", "body": {"n": n}} for n in range(20)]
        await client.post("/batch", json={"requests": requests}, headers=app_headers())
        frames = [await reader.next_event()]
        while frames[-1].event != "resync":
            frames.append(await reader.next_event())
        assert frames[-1].data == {"reason": "overflow"}
        assert len(frames) <= 4, "queued frames are dropped, not delivered late"
    finally:
        response.close()


async def test_stopping_the_server_ends_open_streams(make_client: MakeClient) -> None:
    client = await make_client()
    async with ClientSession() as session:
        response = await session.get(client.make_url("/realtime"), headers=STREAM)
        reader = SseReader(response)
        assert (await reader.next_event()).event == "connected"
        await asyncio.wait_for(client.server.close(), 5)
        with pytest.raises(EOFError):
            await reader.next_event()


async def test_subscriptions_must_be_an_array(client: Client, opened: list[ClientResponse]) -> None:
    subscriber = await as_admin(client, opened)
    response = await client.post(
        "/realtime/subscriptions", json={"clientId": subscriber.client_id, "subscriptions": "Game"}
    )
    assert (response.status, await response.json()) == (400, {"error": "subscriptions must be an array"})


async def test_other_users_secrets_and_email_never_reach_a_subscriber(
    client: Client, opened: list[ClientResponse]
) -> None:
    ann = await (
        await client.post(
            "/users",
            json={"username": "ann", "password": "pw", "email": "ann@example.com"},
            headers=app_headers(),
        )
    ).json()
    bob = await (
        await client.post("/users", json={"username": "bob", "password": "pw"}, headers=app_headers())
    ).json()
    watcher = await connect(client, opened, query=f"?sessionToken={bob['sessionToken']}")
    await watcher.subscribe({"collection": "_User"})
    public = {"ACL": {"*": {"read": True}, ann["objectId"]: {"read": True, "write": True}}, "nickname": "A"}
    saved = await client.put(f"/users/{ann['objectId']}", json=public, headers=master_headers())
    assert saved.status == 200, await saved.text()
    record = (await watcher.change()).data["record"]
    assert record["nickname"] == "A"
    assert not {"email", "password", "sessionToken", "authData"} & set(record)


async def test_session_changes_reach_their_owner_only_and_never_carry_a_token(
    client: Client, opened: list[ClientResponse]
) -> None:
    ann, bob = [
        await (
            await client.post("/users", json={"username": name, "password": "pw"}, headers=app_headers())
        ).json()
        for name in ("ann", "bob")
    ]
    anonymous = await connect(client, opened)
    refused = await anonymous.subscribe({"collection": "_Session"})
    assert [entry["collection"] for entry in refused["rejected"]] == ["_Session"]
    watcher = await connect(client, opened, query=f"?sessionToken={bob['sessionToken']}")
    assert (await watcher.subscribe({"collection": "_Session"}))["accepted"] == [{"collection": "_Session"}]
    # A session the master writes with a public ACL still reaches only its owner.
    public = {
        "user": {"__type": "Pointer", "className": "_User", "objectId": ann["objectId"]},
        "ACL": {"*": {"read": True}},
    }
    assert (await client.post("/classes/_Session", json=public, headers=master_headers())).status == 201
    own = await client.post(
        "/sessions", json={}, headers=app_headers(**{"X-Parse-Session-Token": bob["sessionToken"]})
    )
    assert own.status == 201
    record = (await watcher.change()).data["record"]
    assert record["user"]["objectId"] == bob["objectId"]
    assert "sessionToken" not in record


async def test_a_client_may_hold_at_most_100_subscriptions(
    client: Client, opened: list[ClientResponse]
) -> None:
    subscriber = await as_admin(client, opened)
    too_many = [{"collection": "Game"}] * 101
    response = await client.post(
        "/realtime/subscriptions", json={"clientId": subscriber.client_id, "subscriptions": too_many}
    )
    assert response.status == 400
    assert (await response.json())["code"] == 102
    assert len((await subscriber.subscribe(*too_many[:100]))["accepted"]) == 100


async def test_backtracking_filters_hold_the_loop_once_then_the_client_must_resync(
    client: Client, opened: list[ClientResponse]
) -> None:
    """Red team: 200 copies of a backtracking filter held every write (and the whole server) 25 s."""
    subscriber = await connect(client, opened, **app_headers())
    await subscriber.subscribe(*[{"collection": "Bomb", "filter": {"t": {"$regex": "^(a|aa)+$"}}}] * 100)
    started = time.process_time()
    await create(client, "Bomb", {"t": "a" * 60 + "b"})
    await create(client, "Bomb", {"t": "a" * 60 + "b"})
    assert time.process_time() - started < 2.0, "each filter would cost the loop 50 ms per write"
    frame = await subscriber.reader.next_event()
    assert (frame.event, frame.data) == ("resync", {"reason": "filter-timeout"})


async def test_backtracking_filters_of_many_clients_share_one_bounded_cost(
    client: Client, opened: list[ClientResponse]
) -> None:
    """Each client's bad filter used to cost the loop its own 50 ms: 30 clients, 1.5 s per write."""
    subscribers = [await connect(client, opened, **app_headers()) for _ in range(30)]
    for subscriber in subscribers:
        await subscriber.subscribe({"collection": "Bomb", "filter": {"t": {"$regex": "^(a|aa)+$"}}})
    started = time.process_time()
    await create(client, "Bomb", {"t": "a" * 60 + "b"})
    assert time.process_time() - started < 0.5, "the filters' matching is bounded as a whole"
    for subscriber in subscribers:  # each client, matched or cut short, is told to resync
        frame = await subscriber.reader.next_event()
        assert (frame.event, frame.data) == ("resync", {"reason": "filter-timeout"})
