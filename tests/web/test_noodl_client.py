"""The exact requests OpenNoodl's CloudStore, UserService and editor send (parse-wire.md §12), replayed
as raw HTTP: what existing Noodl apps rely on."""

from __future__ import annotations

import json
from typing import Any

from tests.web.conftest import APP_ID, MASTER_KEY, Client, app_headers

BROWSER = {"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json"}
CLOUD_RUNTIME = {**BROWSER, "X-Parse-Master-Key": MASTER_KEY}


async def seed(client: Client) -> list[str]:
    ids = []
    for n, name in enumerate(["a", "b", "c", "d"]):
        body = {"n": n, "name": name, "group": "even" if n % 2 == 0 else "odd"}
        response = await client.post("/classes/Thing", json=body, headers=BROWSER)
        ids.append((await response.json())["objectId"])
    return ids


async def test_query_records_posts_a_get_with_string_lists_and_boolean_count(client: Client) -> None:
    await seed(client)
    body: dict[str, Any] = {
        "_method": "GET",
        "where": {"n": {"$gte": 1}},
        "limit": 2,
        "skip": 0,
        "keys": "name,n",
        "order": "-n,name",
        "count": True,
    }
    response = await client.post("/classes/Thing", data=json.dumps(body), headers=BROWSER)
    result = await response.json()
    assert response.status == 200
    assert [row["name"] for row in result["results"]] == ["d", "c"]
    assert result["count"] == 3
    assert "group" not in result["results"][0]


async def test_count_uses_a_url_encoded_where_with_limit_zero(client: Client) -> None:
    await seed(client)
    response = await client.get(
        "/classes/Thing",
        params={"where": json.dumps({"group": "even"}), "limit": "0", "count": "1"},
        headers=BROWSER,
    )
    assert await response.json() == {"results": [], "count": 2}


async def test_get_and_delete_carry_a_json_content_type_with_an_empty_body(client: Client) -> None:
    ids = await seed(client)
    fetched = await client.get(f"/classes/Thing/{ids[0]}", headers=BROWSER)
    assert (await fetched.json())["name"] == "a"
    deleted = await client.delete(f"/classes/Thing/{ids[0]}", headers=CLOUD_RUNTIME)
    assert (deleted.status, await deleted.json()) == (200, {})


async def test_increment_relies_on_the_echoed_value(client: Client) -> None:
    ids = await seed(client)
    response = await client.put(
        f"/classes/Thing/{ids[3]}", json={"n": {"__op": "Increment", "amount": 5}}, headers=BROWSER
    )
    assert (await response.json())["n"] == 8


async def test_save_with_null_fields_unsets_them(client: Client) -> None:
    ids = await seed(client)
    await client.put(f"/classes/Thing/{ids[1]}", json={"name": None, "n": 10}, headers=BROWSER)
    stored = await (await client.get(f"/classes/Thing/{ids[1]}", headers=BROWSER)).json()
    assert "name" not in stored
    assert stored["n"] == 10


async def test_relation_ops_with_pointer_lists(client: Client) -> None:
    ids = await seed(client)
    owner = await (await client.post("/classes/Box", json={"label": "x"}, headers=BROWSER)).json()
    pointers = [{"__type": "Pointer", "objectId": i, "className": "Thing"} for i in ids[:2]]
    added = await client.put(
        f"/classes/Box/{owner['objectId']}",
        json={"things": {"__op": "AddRelation", "objects": pointers}},
        headers=BROWSER,
    )
    assert added.status == 200
    related = {
        "$relatedTo": {
            "object": {"__type": "Pointer", "className": "Box", "objectId": owner["objectId"]},
            "key": "things",
        }
    }
    found = await client.post("/classes/Thing", json={"_method": "GET", "where": related}, headers=BROWSER)
    assert sorted(row["name"] for row in (await found.json())["results"]) == ["a", "b"]


async def test_the_aggregate_node_sends_an_unencoded_group(client: Client) -> None:
    await seed(client)
    url = client.make_url("/aggregate/Thing")
    raw_query = '$match=%7B%22group%22%3A%22odd%22%7D&$group={"total":{"$sum":"$n"},"_id":null}'
    response = await client.session.get(f"{url}?{raw_query}", headers=BROWSER)
    assert await response.json() == {"results": [{"objectId": None, "total": 4}]}


async def test_distinct_over_get(client: Client) -> None:
    await seed(client)
    response = await client.get(
        "/aggregate/Thing", params={"where": "{}", "distinct": "group"}, headers=BROWSER
    )
    assert sorted((await response.json())["results"]) == ["even", "odd"]


async def test_user_service_login_signup_me_and_update(client: Client) -> None:
    signup = await client.post(
        "/users",
        json={"username": "nina", "password": "pw", "email": "nina@example.com", "age": 30},
        headers={**BROWSER, "X-Parse-Installation-Id": "install-1"},
    )
    user_id = (await signup.json())["objectId"]
    login = await client.post(
        "/login",
        json={"username": "nina", "password": "pw", "_method": "GET", "method": "GET"},
        headers=BROWSER,
    )
    user = await login.json()
    assert (user["objectId"], user["age"]) == (user_id, 30)
    as_nina = {**BROWSER, "X-Parse-Session-Token": user["sessionToken"]}
    me = await (await client.get("/users/me", headers=as_nina)).json()
    assert me["sessionToken"] == user["sessionToken"]
    updated = await client.put(
        f"/users/{user_id}", json={"email": "nina@example.com", "age": 31}, headers=as_nina
    )
    assert updated.status == 200
    runtime_me = await client.get(
        "/users/me", headers={**CLOUD_RUNTIME, "X-Parse-Session-Token": user["sessionToken"]}
    )
    assert (await runtime_me.json())["age"] == 31


async def test_the_cloud_runtime_literal_undefined_master_key_is_ignored(client: Client) -> None:
    await seed(client)
    headers = {**BROWSER, "X-Parse-Master-Key": "undefined"}
    response = await client.get("/classes/Thing", headers=headers)
    assert len((await response.json())["results"]) == 4


async def test_the_editor_reads_server_info_config_and_schemas_with_its_header_spelling(
    client: Client,
) -> None:
    await seed(client)
    headers = {"X-Parse-Application-Id": APP_ID, "X-Parse-MASTER-Key": MASTER_KEY}
    info = await client.post(
        "/serverInfo", data=json.dumps({"_method": "GET", "_ApplicationId": APP_ID, "_MasterKey": MASTER_KEY})
    )
    assert (await info.json())["parseServerVersion"].startswith("7.")
    schemas = await (await client.get("/schemas", headers=headers)).json()
    thing = next(schema for schema in schemas["results"] if schema["className"] == "Thing")
    assert thing["fields"]["n"] == {"type": "Number"}
    config = await (await client.get("/config", headers=headers)).json()
    assert config == {"params": {}, "masterKeyOnly": {}}


async def test_the_editor_imports_sample_data_through_a_root_mount_batch(client: Client) -> None:
    requests = [{"method": "POST", "path": "//classes/Sample", "body": {"i": i}} for i in range(3)]
    response = await client.post(
        "/batch", json={"requests": requests}, headers={**app_headers(), "X-Parse-Master-Key": MASTER_KEY}
    )
    assert all("success" in item for item in await response.json())
