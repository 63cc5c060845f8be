"""Route behaviour the SDK hides: statuses, headers and exact bodies of the Parse routes."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.errors import FunctionNotFoundError
from sidecar.web import FunctionRequest
from tests.web.conftest import APP_ID, MASTER_KEY, Client, MakeClient, app_headers, master_headers


async def create(client: Client, class_name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/classes/{class_name}", json=body, headers=app_headers())
    assert response.status == 201, await response.text()
    created: dict[str, Any] = await response.json()
    return created


async def test_create_answers_201_with_id_and_time_only_and_a_location(client: Client) -> None:
    response = await client.post("/classes/Game", json={"score": 1, "name": "x"}, headers=app_headers())
    body = await response.json()
    assert response.status == 201
    assert set(body) == {"objectId", "createdAt"}
    assert response.headers["Location"].endswith(f"/classes/Game/{body['objectId']}")


async def test_update_echoes_the_full_value_of_operator_fields_only(client: Client) -> None:
    created = await create(client, "Counter", {"hits": 40, "tags": ["a"]})
    response = await client.put(
        f"/classes/Counter/{created['objectId']}",
        json={"hits": {"__op": "Increment", "amount": 2}, "tags": {"__op": "Add", "objects": ["b"]}, "x": 1},
        headers=app_headers(),
    )
    body = await response.json()
    assert body["hits"] == 42
    assert body["tags"] == ["a", "b"]
    assert "x" not in body
    assert "updatedAt" in body


async def test_update_ignores_read_only_fields_noodl_sends_back(client: Client) -> None:
    created = await create(client, "Item", {"name": "a"})
    path = f"/classes/Item/{created['objectId']}"
    body = {"name": "b", "objectId": "other", "createdAt": "2000-01-01T00:00:00.000Z"}
    assert (await client.put(path, json=body, headers=app_headers())).status == 200
    stored = await (await client.get(path, headers=app_headers())).json()
    assert (stored["objectId"], stored["name"], stored["createdAt"]) == (
        created["objectId"],
        "b",
        created["createdAt"],
    )


async def test_batch_answers_a_bare_array_in_request_order(make_client: MakeClient) -> None:
    client = await make_client(mount="/parse")
    requests = [
        {"method": "POST", "path": "/parse/classes/Game", "body": {"score": 1}},
        {"method": "POST", "path": "/parse/classes/Game", "body": {"score": "bad"}},
    ]
    response = await client.post("/parse/batch", json={"requests": requests}, headers=app_headers())
    assert response.status == 200
    first, second = await response.json()
    assert set(first["success"]) == {"objectId", "createdAt"}
    assert second["error"]["code"] == 111


async def test_a_batch_path_outside_the_mount_cannot_be_routed(make_client: MakeClient) -> None:
    client = await make_client(mount="/parse")
    requests = [{"method": "POST", "path": "/classes/Game", "body": {}}]
    response = await client.post("/parse/batch", json={"requests": requests}, headers=app_headers())
    assert response.status == 400
    assert await response.json() == {"code": 107, "error": "cannot route batch path /classes/Game"}


async def test_a_batch_with_a_path_no_route_serves_is_refused_whole_and_runs_nothing(client: Client) -> None:
    requests = [
        {"method": "POST", "path": "/classes/Game", "body": {"score": 1}},
        {"method": "POST", "path": "/nothing/here", "body": {}},
    ]
    response = await client.post("/batch", json={"requests": requests}, headers=app_headers())
    assert response.status == 400
    assert await response.json() == {"code": 107, "error": "cannot route POST /nothing/here"}
    found = await client.get("/classes/Game", headers=master_headers())
    assert (found.status, (await found.json())["results"]) == (200, [])


async def test_batch_routes_reads_and_other_routes_item_by_item(client: Client) -> None:
    created = await create(client, "Game", {"score": 7})
    requests = [
        {"method": "GET", "path": f"//classes/Game/{created['objectId']}"},
        {"method": "PUT", "path": f"/classes/Game/{created['objectId']}", "body": {"score": 8}},
        {"method": "GET", "path": "/classes/Game/missing"},
    ]
    response = await client.post("/batch", json={"requests": requests}, headers=app_headers())
    fetched, updated, missing = await response.json()
    assert fetched["success"]["score"] == 7
    assert "updatedAt" in updated["success"]
    assert missing["error"] == {"code": 101, "error": "Object not found."}


async def test_a_transactional_batch_is_all_or_nothing(client: Client) -> None:
    requests = [
        {"method": "POST", "path": "/classes/Game", "body": {"score": 1}},
        {"method": "POST", "path": "/classes/Game", "body": {"score": "bad"}},
    ]
    response = await client.post(
        "/batch", json={"requests": requests, "transaction": True}, headers=app_headers()
    )
    assert response.status == 400
    assert (await response.json())["code"] == 111
    found = await client.get("/classes/Game", headers=master_headers())
    assert (await found.json())["results"] == []


async def test_requests_must_be_an_array(client: Client) -> None:
    response = await client.post("/batch", json={"requests": {}}, headers=app_headers())
    assert (response.status, (await response.json())["code"]) == (400, 107)


async def test_signup_login_me_and_logout_over_rest(client: Client) -> None:
    signup = await client.post("/users", json={"username": "ann", "password": "pw"}, headers=app_headers())
    assert signup.status == 201
    assert signup.headers["Location"].endswith(f"/users/{(await signup.json())['objectId']}")
    login = await client.post(
        "/login", json={"username": "ann", "password": "pw", "_method": "GET"}, headers=app_headers()
    )
    token = (await login.json())["sessionToken"]
    me = await client.get("/users/me", headers=app_headers(**{"X-Parse-Session-Token": token}))
    assert (await me.json())["sessionToken"] == token
    logout = await client.post("/logout", headers=app_headers(**{"X-Parse-Session-Token": token}))
    assert (logout.status, await logout.json()) == (200, {})
    again = await client.get("/users/me", headers=app_headers(**{"X-Parse-Session-Token": token}))
    assert (again.status, (await again.json())["code"]) == (400, 209)


async def test_login_errors(client: Client) -> None:
    await client.post("/users", json={"username": "ann", "password": "pw"}, headers=app_headers())
    wrong = await client.post("/login", json={"username": "ann", "password": "no"}, headers=app_headers())
    assert (wrong.status, await wrong.json()) == (404, {"code": 101, "error": "Invalid username/password."})
    no_password = await client.get("/login", params={"username": "ann"}, headers=app_headers())
    assert (await no_password.json())["code"] == 201
    stale = await client.post(
        "/login",
        json={"username": "ann", "password": "pw"},
        headers=app_headers(**{"X-Parse-Session-Token": "r:stale"}),
    )
    assert stale.status == 200, "a stale token never blocks logging in"


async def test_me_without_a_token_is_209(client: Client) -> None:
    response = await client.get("/users/me", headers=app_headers())
    assert (response.status, (await response.json())["code"]) == (400, 209)


async def test_aggregate_accepts_the_noodl_top_level_stage_form(client: Client) -> None:
    for score in (1, 2, 3):
        await create(client, "Game", {"score": score})
    response = await client.get(
        "/aggregate/Game",
        params={"$match": '{"score":{"$gt":1}}', "$group": '{"_id":null,"total":{"$sum":"$score"}}'},
        headers=app_headers(),
    )
    assert await response.json() == {"results": [{"objectId": None, "total": 5}]}


async def test_aggregate_refuses_unprefixed_stages(client: Client) -> None:
    response = await client.get("/aggregate/Game", params={"group": '{"_id":null}'}, headers=master_headers())
    assert response.status == 400
    assert await response.json() == {"code": 102, "error": "Invalid aggregate stage 'group'."}


async def test_distinct_lists_values(client: Client) -> None:
    for city in ("Oslo", "Paris", "Oslo"):
        await create(client, "Player", {"city": city})
    response = await client.get(
        "/aggregate/Player", params={"distinct": "city", "where": "{}"}, headers=master_headers()
    )
    assert sorted((await response.json())["results"]) == ["Oslo", "Paris"]


async def test_schema_routes(client: Client) -> None:
    missing = await client.get("/schemas/Nope", headers=master_headers())
    assert (missing.status, (await missing.json())["code"]) == (400, 103)
    made = await client.post(
        "/schemas/Note",
        json={"className": "Note", "fields": {"text": {"type": "String"}}},
        headers=master_headers(),
    )
    assert (await made.json())["fields"]["text"] == {"type": "String"}
    mismatch = await client.post("/schemas/Note2", json={"className": "Other"}, headers=master_headers())
    assert (await mismatch.json())["code"] == 103
    dropped = await client.delete("/schemas/Note", headers=master_headers())
    assert (dropped.status, await dropped.json()) == (200, {})


async def test_config_is_public_to_read_and_master_to_write(client: Client) -> None:
    refused = await client.put("/config", json={"params": {"a": 1}}, headers=app_headers())
    assert refused.status == 403
    saved = await client.put("/config", json={"params": {"a": 1, "b": "x"}}, headers=master_headers())
    assert await saved.json() == {"result": True}
    await client.put("/config", json={"params": {"b": None}}, headers=master_headers())
    read = await client.get("/config", headers=app_headers())
    assert await read.json() == {"params": {"a": 1}, "masterKeyOnly": {"a": False}}


async def test_master_key_only_config_is_hidden_without_the_master_key(client: Client) -> None:
    body = {"params": {"public": 1, "secret": "s3"}, "masterKeyOnly": {"secret": True}}
    await client.put("/config", json=body, headers=master_headers())

    anonymous = await client.get("/config", headers=app_headers())
    master = await client.get("/config", headers=master_headers())

    assert await anonymous.json() == {"params": {"public": 1}, "masterKeyOnly": {"public": False}}
    assert await master.json() == {
        "params": {"public": 1, "secret": "s3"},
        "masterKeyOnly": {"public": False, "secret": True},
    }
    # A later PUT that does not repeat the flag makes the parameter public again, as in Parse Server.
    await client.put("/config", json={"params": {"secret": "s4"}}, headers=master_headers())
    assert (await (await client.get("/config", headers=app_headers())).json())["params"]["secret"] == "s4"


async def test_raw_file_upload_download_and_master_delete(client: Client) -> None:
    upload = await client.post(
        "/files/photo.png", data=b"\x89PNG-bytes", headers=app_headers(**{"Content-Type": "image/png"})
    )
    assert upload.status == 201
    body = await upload.json()
    assert body["name"].endswith("_photo.png")
    assert body["url"] == upload.headers["Location"]
    assert f"/files/{APP_ID}/" in body["url"]
    download = await client.get(f"/files/{APP_ID}/{body['name']}")
    assert (download.status, await download.read()) == (200, b"\x89PNG-bytes")
    assert download.headers["Content-Type"] == "image/png"
    refused = await client.delete(f"/files/{body['name']}", headers=app_headers())
    assert refused.status == 403
    deleted = await client.delete(f"/files/{body['name']}", headers=master_headers())
    assert deleted.status == 200
    assert (await client.get(f"/files/{APP_ID}/{body['name']}")).status == 404


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("evil.html", "text/html"), ("evil.svg", "image/svg+xml"), ("evil.xhtml", "application/xhtml+xml")],
)
async def test_an_uploaded_page_is_a_sandboxed_download_never_a_page_of_the_backend(
    client: Client, name: str, content_type: str
) -> None:
    """Red team: anyone with the application id could upload a page that then ran on the backend's own
    origin (beside the dashboard's session cookie) when someone opened its URL."""
    upload = await client.post(
        f"/files/{name}", data=b"<svg onload=alert(1)>", headers=app_headers(**{"Content-Type": content_type})
    )
    assert upload.status == 201
    download = await client.get(f"/files/{APP_ID}/{(await upload.json())['name']}")
    assert download.status == 200
    assert download.headers["Content-Disposition"] == "attachment"
    assert "sandbox" in download.headers["Content-Security-Policy"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    png = app_headers(**{"Content-Type": "image/png"})
    image = await client.post("/files/a.png", data=b"png", headers=png)
    shown = await client.get(f"/files/{APP_ID}/{(await image.json())['name']}")
    assert "Content-Disposition" not in shown.headers  # images still show inline
    assert shown.headers["X-Content-Type-Options"] == "nosniff"


async def test_file_names_follow_parse_rules(client: Client) -> None:
    response = await client.post("/files/photo (1).png", data=b"x", headers=app_headers())
    assert (response.status, (await response.json())["code"]) == (400, 122)


@pytest.mark.parametrize("name", ["x" * 300, "%00", "a%00b.png"])
async def test_a_name_no_stored_file_can_have_is_404_not_500(client: Client, name: str) -> None:
    assert (await client.post("/files/a.txt", data=b"x", headers=app_headers())).status == 201
    deleted = await client.delete(f"/files/{name}", headers=master_headers())
    assert (deleted.status, (await deleted.json())["code"]) == (404, 101)
    assert (await client.get(f"/files/{APP_ID}/{name}")).status == 404


@pytest.mark.parametrize("system_class", ["_Session", "_User", "_Role"])
async def test_deleting_an_empty_system_class_keeps_sessions_working(
    client: Client, system_class: str
) -> None:
    deleted = await client.delete(f"/schemas/{system_class}", headers=master_headers())
    assert deleted.status == 200
    stale = await client.get("/classes/Todo", headers=app_headers(**{"X-Parse-Session-Token": "r:nope"}))
    assert (stale.status, (await stale.json())["code"]) == (400, 209)
    signup = await client.post("/users", json={"username": "u", "password": "p"}, headers=app_headers())
    assert signup.status == 201
    token = (await signup.json())["sessionToken"]
    me = await client.get("/users/me", headers=app_headers(**{"X-Parse-Session-Token": token}))
    assert me.status == 200


class RecordingInvoker:
    def __init__(self, known: str) -> None:
        self.known = known
        self.calls: list[tuple[str, FunctionRequest]] = []

    async def invoke(self, name: str, request: FunctionRequest) -> tuple[int, str]:
        if name != self.known:
            raise FunctionNotFoundError(name)
        self.calls.append((name, request))
        return 400, '{"error":"from the graph"}'


async def test_functions_answer_404_until_an_invoker_is_set(client: Client) -> None:
    response = await client.post("/functions/hello", json={}, headers=app_headers())
    assert response.status == 404
    assert await response.json() == {"error": "Function 'hello' not found", "code": "function/not-found"}


async def test_functions_pass_body_text_and_headers_and_answer_verbatim(make_client: MakeClient) -> None:
    invoker = RecordingInvoker("hello")
    client = await make_client(functions=invoker)
    response = await client.post(
        "/functions/hello", json={"name": "x", "_ApplicationId": APP_ID}, headers={"X-Custom": "1"}
    )
    assert (response.status, await response.text()) == (400, '{"error":"from the graph"}')
    ((name, request),) = invoker.calls
    assert name == "hello"
    assert request.body == '{"name":"x"}'
    assert request.headers["x-custom"] == "1"
    unknown = await client.post("/functions/nope", json={}, headers=app_headers())
    assert (unknown.status, (await unknown.json())["error"]) == (404, "Function 'nope' not found")


async def test_server_info_reports_a_modern_version_to_master(client: Client) -> None:
    response = await client.get("/serverInfo", headers=master_headers())
    body = await response.json()
    assert body["parseServerVersion"] == "7.4.0"
    assert body["features"]["schemas"]["addClass"] is True


async def test_an_admin_can_upload_raw_bytes_with_only_a_bearer_token(client: Client) -> None:
    response = await client.post(
        "/files/data.json",
        data=b'{"not": "credentials"}',
        headers={"Authorization": f"Bearer {MASTER_KEY}", "Content-Type": "application/json"},
    )
    assert response.status == 201
    download = await client.get(f"/files/{APP_ID}/{(await response.json())['name']}")
    assert await download.read() == b'{"not": "credentials"}'


async def test_a_user_lists_and_revokes_only_its_own_sessions(client: Client) -> None:
    tokens, users = [], []
    for name in ("ann", "bob"):
        signup = await client.post("/users", json={"username": name, "password": "pw"}, headers=app_headers())
        tokens.append((await signup.json())["sessionToken"])
        users.append((await signup.json())["objectId"])
    as_ann = app_headers(**{"X-Parse-Session-Token": tokens[0]})
    listed = (await (await client.get("/sessions", headers=as_ann)).json())["results"]
    assert [session["user"]["objectId"] for session in listed] == [users[0]]
    assert all("sessionToken" not in session for session in listed)  # stored as digests, never listed
    mine = await (await client.get("/sessions/me", headers=as_ann)).json()
    assert mine["objectId"] == listed[0]["objectId"]
    assert mine["sessionToken"] == tokens[0]  # the presented token is echoed
    all_sessions = (await (await client.get("/sessions", headers=master_headers())).json())["results"]
    bobs = next(session for session in all_sessions if session["user"]["objectId"] == users[1])
    refused = await client.delete(f"/sessions/{bobs['objectId']}", headers=as_ann)
    assert refused.status == 404
    revoked = await client.delete(f"/sessions/{mine['objectId']}", headers=as_ann)
    assert revoked.status == 200
    assert (await client.get("/users/me", headers=as_ann)).status == 400


async def test_a_transactional_batch_refuses_items_it_cannot_make_atomic(client: Client) -> None:
    requests = [
        {"method": "POST", "path": "/classes/Game", "body": {"score": 1}},
        {"method": "GET", "path": "/classes/Game"},
    ]
    response = await client.post(
        "/batch", json={"requests": requests, "transaction": True}, headers=app_headers()
    )
    assert (response.status, (await response.json())["code"]) == (400, 107)
    found = await client.get("/classes/Game", headers=master_headers())
    assert (await found.json())["results"] == []
