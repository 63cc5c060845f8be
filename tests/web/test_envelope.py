"""The transport envelope (parse-wire.md §1): credentials, tunnelling, body parsing and error shapes."""

from __future__ import annotations

import json

import pytest

from tests.web.conftest import APP_ID, MASTER_KEY, Client, MakeClient, app_headers, master_headers


async def test_a_request_without_an_application_id_is_a_bare_403(client: Client) -> None:
    response = await client.get("/classes/Game")
    assert response.status == 403
    assert await response.json() == {"error": "unauthorized"}


async def test_a_wrong_application_id_is_a_bare_403(client: Client) -> None:
    response = await client.get("/classes/Game", headers={"X-Parse-Application-Id": "other"})
    assert response.status == 403
    assert await response.json() == {"error": "unauthorized"}


@pytest.mark.parametrize("mount", ["/", "/parse"])
async def test_the_sdk_form_text_plain_body_with_tunnelled_credentials_and_method(
    make_client: MakeClient, mount: str
) -> None:
    client = await make_client(mount=mount)
    prefix = "" if mount == "/" else mount
    created = await client.post(
        f"{prefix}/classes/Game",
        data=json.dumps({"_ApplicationId": APP_ID, "_ClientVersion": "js8.6.0", "score": 3}),
        headers={"Content-Type": "text/plain"},
    )
    assert created.status == 201
    found = await client.post(
        f"{prefix}/classes/Game",
        data=json.dumps({"_ApplicationId": APP_ID, "_method": "GET", "where": {"score": 3}, "limit": 5}),
        headers={"Content-Type": "text/plain"},
    )
    assert found.status == 200
    results = (await found.json())["results"]
    assert [row["score"] for row in results] == [3]
    assert "_ApplicationId" not in results[0]


async def test_a_body_without_content_type_is_still_json(client: Client) -> None:
    response = await client.post(
        "/serverInfo",
        data=json.dumps({"_method": "GET", "_ApplicationId": APP_ID, "_MasterKey": MASTER_KEY}).encode(),
        headers={"Content-Type": ""},
    )
    assert response.status == 200
    assert int((await response.json())["parseServerVersion"].split(".")[0]) > 4


async def test_query_string_values_are_json_decoded_when_they_decode(client: Client) -> None:
    for score in (1, 2, 3):
        await client.post("/classes/Game", json={"score": score, "name": f"g{score}"}, headers=app_headers())
    response = await client.get(
        "/classes/Game",
        params={"where": json.dumps({"score": {"$gte": 2}}), "order": "-score", "limit": "1", "count": "1"},
        headers=app_headers(),
    )
    body = await response.json()
    assert [row["score"] for row in body["results"]] == [3]
    assert body["count"] == 2


async def test_method_override_routes_a_post_as_put_and_delete(client: Client) -> None:
    created = await (await client.post("/classes/Game", json={"score": 1}, headers=app_headers())).json()
    path = f"/classes/Game/{created['objectId']}"
    updated = await client.post(path, json={"_method": "PUT", "score": 2}, headers=app_headers())
    assert updated.status == 200
    assert "updatedAt" in await updated.json()
    deleted = await client.post(path, json={"_method": "DELETE"}, headers=app_headers())
    assert (deleted.status, await deleted.json()) == (200, {})
    gone = await client.get(path, headers=app_headers())
    assert gone.status == 404


async def test_parse_errors_carry_code_and_message_with_parse_statuses(client: Client) -> None:
    await client.post("/classes/Game", json={"score": 1}, headers=app_headers())
    missing = await client.get("/classes/Game/nope", headers=app_headers())
    assert (missing.status, await missing.json()) == (404, {"code": 101, "error": "Object not found."})
    bad_param = await client.get("/classes/Game", params={"bogus": "1"}, headers=app_headers())
    assert bad_param.status == 400
    assert await bad_param.json() == {"code": 102, "error": "Invalid parameter for query: bogus"}
    bad_where = await client.get(
        "/classes/Game", params={"where": json.dumps({"score": {"$bogus": 1}})}, headers=app_headers()
    )
    assert bad_where.status == 400
    assert (await bad_where.json())["code"] == 107


async def test_an_unparsable_json_body_is_400_and_changes_nothing(client: Client) -> None:
    response = await client.post("/classes/Game", data=b"{not json", headers=app_headers())
    assert (response.status, await response.json()) == (400, {"error": "Invalid JSON body", "code": 107})
    count = await client.get("/classes/Game", params={"count": "1", "limit": "0"}, headers=app_headers())
    assert (await count.json())["count"] == 0


async def test_an_unknown_route_is_a_json_404(client: Client) -> None:
    response = await client.get("/nosuch/route", headers=app_headers())
    assert response.status == 404
    assert await response.json() == {"error": "Not found: GET /nosuch/route"}


async def test_an_invalid_session_token_fails_even_on_public_data(client: Client) -> None:
    response = await client.get("/classes/Game", headers=app_headers(**{"X-Parse-Session-Token": "r:nope"}))
    assert response.status == 400
    assert (await response.json())["code"] == 209


async def test_a_wrong_master_key_is_401_never_a_silent_downgrade(client: Client) -> None:
    response = await client.get("/classes/Game", headers=app_headers(**{"X-Parse-Master-Key": "wrong"}))
    assert (response.status, await response.json()) == (401, {"error": "Unauthorized."})


async def test_the_literal_undefined_master_key_counts_as_absent(client: Client) -> None:
    response = await client.get("/classes/Game", headers=app_headers(**{"X-Parse-Master-Key": "undefined"}))
    assert response.status == 200


async def test_the_admin_bearer_token_is_master_without_an_application_id(client: Client) -> None:
    response = await client.get("/schemas", headers={"Authorization": f"Bearer {MASTER_KEY}"})
    assert response.status == 200
    names = {schema["className"] for schema in (await response.json())["results"]}
    assert {"_User", "_Session", "_Role"} <= names


async def test_master_routes_refuse_ordinary_callers(client: Client) -> None:
    response = await client.get("/schemas", headers=app_headers())
    assert response.status == 403
    assert "error" in await response.json()


async def test_configured_client_keys_are_required_of_non_master_callers(make_client: MakeClient) -> None:
    client = await make_client(client_keys=frozenset({"js-key"}))
    refused = await client.get("/classes/Game", headers=app_headers())
    assert (refused.status, await refused.json()) == (403, {"error": "unauthorized"})
    allowed = await client.get("/classes/Game", headers=app_headers(**{"X-Parse-Javascript-Key": "js-key"}))
    assert allowed.status == 200
    master = await client.get("/classes/Game", headers=master_headers())
    assert master.status == 200
