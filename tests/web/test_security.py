"""Local security (contract §3.1, §4.7): loopback binding, the Host check, CORS and body limits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer

from sidecar.errors import TooManyAttemptsError, UnsafeBindError
from sidecar.store import SqliteRecordStore
from sidecar.web import WebSettings, build_app, start_server
from sidecar.web.limiter import CredentialLimiter
from sidecar.web.limits import BodyLimits
from tests.web.conftest import Client, MakeClient, app_headers, master_headers


def test_a_non_loopback_bind_needs_an_admin_token() -> None:
    with pytest.raises(UnsafeBindError):
        WebSettings(app_id="b", host="0.0.0.0").check_bind()
    WebSettings(app_id="b", host="0.0.0.0", master_key="token").check_bind()
    WebSettings(app_id="b").check_bind()
    assert WebSettings(app_id="b").host == "127.0.0.1"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "192.168.1.5:8578"])
async def test_a_foreign_host_header_is_refused(client: Client, host: str) -> None:
    response = await client.get("/health", headers={"Host": host})
    assert response.status == 403
    assert (await response.json())["error"].startswith("Host not allowed")


@pytest.mark.parametrize("host", ["localhost:8578", "127.0.0.1", "[::1]:9000", "LOCALHOST"])
async def test_loopback_host_names_are_accepted(client: Client, host: str) -> None:
    response = await client.get("/health", headers={"Host": host})
    assert response.status == 200


async def test_an_extra_allowed_host_is_accepted(make_client: MakeClient) -> None:
    client = await make_client(allowed_hosts=frozenset({"backend.local"}))
    response = await client.get("/health", headers={"Host": "backend.local:8578"})
    assert response.status == 200


async def test_every_response_carries_cors_headers(client: Client) -> None:
    for response in (await client.get("/health"), await client.get("/classes/X")):
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "OPTIONS" in response.headers["Access-Control-Allow-Methods"]


async def test_a_preflight_is_204_without_credentials(client: Client) -> None:
    response = await client.options(
        "/classes/Game",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-parse-application-id, content-type",
        },
    )
    assert response.status == 204
    assert response.headers["Access-Control-Max-Age"] == "86400"
    assert response.headers["Access-Control-Allow-Headers"] == "x-parse-application-id, content-type"


async def test_a_configured_cors_origin_is_used(make_client: MakeClient) -> None:
    client = await make_client(cors_origin="http://localhost:3000")
    response = await client.get("/health")
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


async def test_a_json_body_over_the_limit_is_413_and_stores_nothing(make_client: MakeClient) -> None:
    client = await make_client(json_body_limit=1000)
    response = await client.post("/classes/Big", json={"blob": "x" * 2000}, headers=app_headers())
    assert response.status == 413
    assert await response.json() == {"error": "Request body too large"}
    found = await client.get("/classes/Big", headers=master_headers())
    assert (await found.json())["results"] == []


async def test_a_file_may_exceed_the_json_limit_but_not_the_file_limit(make_client: MakeClient) -> None:
    client = await make_client(json_body_limit=1000, file_body_limit=5000)
    headers = app_headers(**{"Content-Type": "application/octet-stream"})
    accepted = await client.post("/files/a.bin", data=b"x" * 3000, headers=headers)
    assert accepted.status == 201
    refused = await client.post("/files/b.bin", data=b"x" * 6000, headers=headers)
    assert refused.status == 413


@pytest.mark.parametrize(
    ("mount", "method", "path", "expected"),
    [
        ("/", "POST", "/files/a.png", 5000),
        ("/", "PUT", "/files/a.png", 1000),
        ("/", "POST", "/classes/files", 1000),
        ("/", "POST", "/hooks/b/slug", 7000),
        ("/", "POST", "/api/Todo", 1000),
        ("/", "PUT", "/admin/workflows/w", 1000),
        ("/parse", "POST", "/parse/files/a.png", 5000),
        ("/parse", "POST", "/files/a.png", 1000),
        ("/parse", "POST", "/parse/functions/f", 1000),
    ],
)
def test_each_route_has_its_body_limit(mount: str, method: str, path: str, expected: int) -> None:
    settings = WebSettings(
        app_id="b", mount=mount, json_body_limit=1000, file_body_limit=5000, webhook_body_limit=7000
    )
    assert BodyLimits(settings).for_request(method, path) == expected


async def test_a_chunked_upload_is_cut_at_the_file_limit(make_client: MakeClient) -> None:
    client = await make_client(json_body_limit=1000, file_body_limit=5000)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(6):
            yield b"x" * 1000

    headers = app_headers(**{"Content-Type": "application/octet-stream"})
    refused = await client.post("/files/c.bin", data=chunks(), headers=headers)
    assert (refused.status, await refused.json()) == (413, {"error": "Request body too large"})


async def test_health_needs_no_credentials(client: Client) -> None:
    response = await client.get("/health")
    body = await response.json()
    assert response.status == 200
    assert body["status"] == "ok"
    assert body["ok"] is True


async def test_the_credential_limiter_blocks_only_failing_credentials(client: Client) -> None:
    """The contract's LOCKOUT scenario: 10 bad attempts, then a good token still works, /health still
    works, and the 11th bad attempt is 429 with Retry-After."""
    wrong = app_headers(**{"X-Parse-Master-Key": "wrong"})
    for _ in range(5):
        assert (await client.get("/classes/Game", headers=wrong)).status == 401
    for _ in range(5):
        bad_token = app_headers(**{"X-Parse-Session-Token": "r:unknown"})
        assert (await client.get("/classes/Game", headers=bad_token)).status == 400
    assert (await client.get("/schemas", headers=master_headers())).status == 200
    assert (await client.get("/health")).status == 200
    undefined = app_headers(**{"X-Parse-Master-Key": "undefined"})
    assert (await client.get("/classes/Game", headers=undefined)).status == 200
    blocked = await client.get("/classes/Game", headers=wrong)
    assert blocked.status == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert (await blocked.json())["error"].startswith("Too many failed credential attempts")


def test_failures_age_out_of_the_window() -> None:
    now = [0.0]
    limiter = CredentialLimiter(allowed=2, window_seconds=60, clock=lambda: now[0])
    limiter.failed("a")
    limiter.failed("a")
    with pytest.raises(TooManyAttemptsError) as refused:
        limiter.failed("a")
    assert refused.value.retry_after_seconds == 60
    limiter.failed("b")
    now[0] = 61.0
    limiter.failed("a")


async def test_start_server_refuses_an_unguarded_public_bind(store: SqliteRecordStore) -> None:
    settings = WebSettings(app_id="b", host="0.0.0.0")
    with pytest.raises(UnsafeBindError):
        await start_server(build_app(store, settings), settings)


async def test_start_server_listens_on_a_loopback_port(store: SqliteRecordStore) -> None:
    settings = WebSettings(app_id="b")
    server = await start_server(build_app(store, settings), settings)
    try:
        async with (
            ClientSession() as session,
            session.get(f"http://127.0.0.1:{server.port}/health") as response,
        ):
            assert response.status == 200
    finally:
        await server.stop()


async def test_the_backend_can_supply_the_health_body(
    store: SqliteRecordStore, settings: WebSettings
) -> None:
    app = build_app(store, settings, health=lambda: {"ok": True, "service": "nodegx-backend"})
    client: Client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        response = await client.get("/health")
        assert await response.json() == {"ok": True, "service": "nodegx-backend"}
    finally:
        await client.close()
