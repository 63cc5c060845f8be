"""Parse-wire details the SDK relies on: one's own user, other users, Location headers, file urls."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import APP_ID, Client, app_headers, master_headers


async def signup(client: Client, name: str) -> dict[str, Any]:
    response = await client.post("/users", json={"username": name, "password": "pw"}, headers=app_headers())
    assert response.status == 201
    body: dict[str, Any] = await response.json()
    return body


def as_user(token: str) -> dict[str, str]:
    return app_headers(**{"X-Parse-Session-Token": token})


async def test_getting_ones_own_user_by_id_carries_ones_session_token(client: Client) -> None:
    ann = await signup(client, "ann")
    own = await client.get(f"/users/{ann['objectId']}", headers=as_user(ann["sessionToken"]))
    assert (await own.json())["sessionToken"] == ann["sessionToken"]
    bob = await signup(client, "bob")
    other = await client.get(f"/users/{ann['objectId']}", headers=as_user(bob["sessionToken"]))
    assert other.status == 404  # users are private by default, as with Parse's enforcePrivateUsers
    by_master = await client.get(f"/users/{ann['objectId']}", headers=master_headers())
    assert "sessionToken" not in await by_master.json()


async def test_changing_or_deleting_another_user_answers_206(client: Client) -> None:
    ann, bob = await signup(client, "ann"), await signup(client, "bob")
    url = f"/users/{ann['objectId']}"

    by_bob = await client.put(url, json={"username": "taken"}, headers=as_user(bob["sessionToken"]))
    assert (by_bob.status, await by_bob.json()) == (400, {"code": 206, "error": "Insufficient auth."})
    anonymous = await client.put(url, json={"username": "taken"}, headers=app_headers())
    assert (anonymous.status, await anonymous.json()) == (
        400,
        {"code": 206, "error": f"Cannot modify user {ann['objectId']}."},
    )
    deleted_by_bob = await client.delete(url, headers=as_user(bob["sessionToken"]))
    assert (deleted_by_bob.status, (await deleted_by_bob.json())["code"]) == (400, 206)
    deleted_anonymously = await client.delete(url, headers=app_headers())
    assert (deleted_anonymously.status, await deleted_anonymously.json()) == (
        400,
        {"code": 206, "error": "Insufficient auth to delete user"},
    )
    still_there = await client.get(url, headers=master_headers())
    assert (await still_there.json())["username"] == "ann"
    # The owner and the master key still may.
    renamed = await client.put(url, json={"username": "anne"}, headers=as_user(ann["sessionToken"]))
    assert renamed.status == 200
    gone = await client.delete(f"/users/{bob['objectId']}", headers=master_headers())
    assert gone.status == 200


async def test_a_role_created_through_roles_is_located_under_its_class(client: Client) -> None:
    role = {"name": "editors", "ACL": {"*": {"read": True}}}
    created = await client.post("/roles", json=role, headers=master_headers())
    assert created.status == 201
    object_id = (await created.json())["objectId"]
    assert created.headers["Location"].endswith(f"/classes/_Role/{object_id}")


async def test_a_file_read_back_carries_the_url_the_server_serves_it_at(client: Client) -> None:
    upload = await client.post(
        "/files/report.pdf", data=b"%PDF-1.4", headers=app_headers(**{"Content-Type": "application/pdf"})
    )
    name = (await upload.json())["name"]
    # Saved by name only, and once with a url that is not the server's: reads compute it from the name.
    only_name = {"__type": "File", "name": name}
    stale = {"__type": "File", "name": name, "url": "http://elsewhere.example/x.pdf"}
    first = await client.post("/classes/Doc", json={"file": only_name}, headers=app_headers())
    await client.post("/classes/Doc", json={"file": stale}, headers=app_headers())
    holder = {"doc": {"__type": "Pointer", "className": "Doc", "objectId": (await first.json())["objectId"]}}
    await client.post("/classes/Holder", json=holder, headers=app_headers())

    found = await (await client.get("/classes/Doc", headers=app_headers())).json()
    holders = await client.get("/classes/Holder", params={"include": "doc"}, headers=app_headers())
    included = await holders.json()

    served = await client.get(f"/files/{APP_ID}/{name}")
    assert (served.status, await served.read()) == (200, b"%PDF-1.4")
    urls = {doc["file"]["url"] for doc in found["results"]} | {included["results"][0]["doc"]["file"]["url"]}
    assert len(urls) == 1
    assert urls.pop().endswith(f"/files/{APP_ID}/{name}")


async def test_an_upload_without_a_file_name_is_122_whatever_its_body(client: Client) -> None:
    refused = {"code": 122, "error": "Filename not provided."}
    for content_type in ("image/png", "text/plain"):
        for path in ("/files", "/files/"):
            headers = app_headers(**{"Content-Type": content_type})
            response = await client.post(path, data=b"\x89PNG-bytes", headers=headers)
            assert (response.status, await response.json()) == (400, refused)
