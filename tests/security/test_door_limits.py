"""Limits on every route of a served backend (issue 15, items 7 and 8): body limits on ``/api``, the
admin routes, webhooks and functions, refused by ``Content-Length`` before any byte is read and cut
while reading a chunked body; the failed-credential limiter on every route that takes a credential;
``?authToken=`` only on the SSE routes."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from sidecar.backends.backend import Backend
from tests.security.conftest import ADMIN, APP, BACKEND_ID, TOKEN, answer, sign_up

MB = 1024 * 1024
TOO_LARGE = {"error": "Request body too large"}
# Every door that takes a JSON body; each must refuse more than the contract's 10 MB.
JSON_ROUTES = [
    ("POST", "/api/Big"),
    ("PUT", "/api/Big/some-id"),
    ("POST", "/api/_batch"),
    ("POST", "/api/_schema"),
    ("POST", "/admin/triggers"),
    ("PUT", "/admin/workflows/big"),
    ("PUT", "/admin/permissions"),
    ("POST", "/admin/roles"),
    ("POST", "/admin/keys"),
    ("POST", "/classes/Big"),
    ("POST", "/functions/big"),
    ("POST", "/realtime/subscriptions"),
]


async def raw_exchange(port: int, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send a request head (and maybe part of a body) on a fresh connection; the status and the
    response bytes read within 5 s."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode() + body)
        await writer.drain()
        async with asyncio.timeout(5):
            status_line = await reader.readline()
            rest = await reader.read(4096)
    finally:
        writer.close()
    return int(status_line.split()[1]), rest


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
async def test_a_20_gb_content_length_is_refused_before_reading(
    backend: Backend, method: str, path: str
) -> None:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Length: {20 * 1024**3}\r\n\r\n"
    )
    status, rest = await raw_exchange(backend.port, head, b'{"a":')
    assert status == 413
    assert json.loads(rest.split(b"\r\n\r\n", 1)[1]) == TOO_LARGE


async def test_a_20_gb_webhook_body_is_refused_before_reading(
    backend: Backend, http: aiohttp.ClientSession
) -> None:
    await create_webhook(http)
    head = (
        f"POST /hooks/{BACKEND_ID}/greet HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {20 * 1024**3}\r\n\r\n"
    )
    status, _ = await raw_exchange(backend.port, head, b"{}")
    assert status == 413


async def test_a_20_mb_json_body_without_credentials_stores_nothing(http: aiohttp.ClientSession) -> None:
    body = io.BytesIO(json.dumps({"blob": "x" * (20 * MB)}).encode())
    status, answered = await answer(
        await http.post("/api/Big", data=body, headers={"Content-Type": "application/json"})
    )
    assert (status, answered) == (413, TOO_LARGE)
    _status, found = await answer(await http.get("/api/Big", headers=ADMIN))
    assert found["results"] == []


async def chunks(total: int, size: int = MB) -> AsyncIterator[bytes]:
    yield b'{"blob":"'
    for _ in range(total // size):
        yield b"x" * size
    yield b'"}'


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/api/Big"), ("POST", "/admin/triggers"), ("POST", "/classes/Big")]
)
async def test_a_chunked_body_is_cut_at_the_json_limit(
    http: aiohttp.ClientSession, method: str, path: str
) -> None:
    headers = {**ADMIN, **APP, "Content-Type": "application/json"}
    response = await http.request(method, path, data=chunks(11 * MB), headers=headers)
    assert response.request_info.headers.get("Transfer-Encoding") == "chunked"
    assert (await answer(response)) == (413, TOO_LARGE)


async def test_a_body_within_the_limit_still_passes(http: aiohttp.ClientSession) -> None:
    body = io.BytesIO(json.dumps({"blob": "x" * (9 * MB)}).encode())
    headers = {**ADMIN, "Content-Type": "application/json"}
    status, created = await answer(await http.post("/api/Big", data=body, headers=headers))
    assert status == 201, created


# ---- the failed-credential limiter -------------------------------------------------------------


async def statuses(
    http: aiohttp.ClientSession, count: int, method: str, path: str, **kwargs: object
) -> list[int]:
    return [(await http.request(method, path, **kwargs)).status for _ in range(count)]  # type: ignore[arg-type]


async def test_wrong_bearer_tokens_on_admin_routes_end_in_429(http: aiohttp.ClientSession) -> None:
    wrong = {"Authorization": "Bearer not-the-token"}
    seen = await statuses(http, 30, "GET", "/admin/status", headers=wrong)
    assert seen[:10] == [401] * 10
    assert seen[10:] == [429] * 20
    blocked = await http.post("/admin/triggers", json={}, headers=wrong)
    assert blocked.status == 429
    assert int(blocked.headers["Retry-After"]) > 0
    refusal = await blocked.json()
    assert refusal["error"].startswith("Too many failed credential attempts")
    assert refusal["code"] == 100  # Parse Server's rate-limit answer
    # A credential that resolves always passes, and /health never authenticates.
    assert (await http.get("/admin/status", headers=ADMIN)).status == 200
    assert (await http.get("/health")).status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer wrong"},
        {"X-Parse-Master-Key": "wrong"},
        {**APP, "X-Parse-Session-Token": "r:unknown"},  # /api, like /classes, wants the app id first
        {"X-NodeGX-Api-Key": "ngx_unknown"},
    ],
)
async def test_wrong_credentials_on_the_api_routes_end_in_429(
    http: aiohttp.ClientSession, headers: dict[str, str]
) -> None:
    seen = await statuses(http, 12, "GET", "/api/Todo", headers=headers)
    assert 429 not in seen[:10]
    assert seen[10:] == [429, 429]
    assert (await http.get("/api/Todo", headers=ADMIN)).status == 200


async def test_wrong_credentials_on_every_door_share_one_count(http: aiohttp.ClientSession) -> None:
    wrong = {"Authorization": "Bearer wrong"}
    await statuses(http, 4, "GET", "/admin/status", headers=wrong)
    await statuses(http, 3, "GET", "/api/Todo", headers=wrong)
    await statuses(http, 3, "GET", "/classes/Todo", headers={**APP, **wrong})
    assert (await http.get("/executions", headers=wrong)).status == 429


async def test_a_missing_admin_credential_is_not_counted(http: aiohttp.ClientSession) -> None:
    assert await statuses(http, 15, "GET", "/admin/status") == [401] * 15


async def create_webhook(http: aiohttp.ClientSession) -> str:
    definition = {
        "type": "webhook",
        "target": {"kind": "function", "name": "hello"},
        "webhook": {"slug": "greet", "scheme": "token"},
    }
    status, created = await answer(await http.post("/admin/triggers", json=definition, headers=ADMIN))
    assert status == 201, created
    secret = created["secret"]
    assert isinstance(secret, str)
    return secret


async def test_wrong_webhook_tokens_end_in_429(http: aiohttp.ClientSession) -> None:
    secret = await create_webhook(http)
    hook = f"/hooks/{BACKEND_ID}/greet"
    wrong = {"X-Webhook-Token": "whsec_wrong"}
    seen = await statuses(http, 12, "POST", hook, json={}, headers=wrong)
    assert seen[:10] == [401] * 10
    assert seen[10:] == [429, 429]
    # The right token still reaches the function (which does not exist here: 404 from the target).
    passed = await http.post(hook, json={}, headers={"X-Webhook-Token": secret})
    assert passed.status not in (401, 429)


async def test_a_webhook_without_any_token_is_not_counted(http: aiohttp.ClientSession) -> None:
    await create_webhook(http)
    assert await statuses(http, 12, "POST", f"/hooks/{BACKEND_ID}/greet", json={}) == [401] * 12


async def test_wrong_session_tokens_on_user_routes_end_in_429(http: aiohttp.ClientSession) -> None:
    await sign_up(http, "alice")
    stale = {**APP, "X-Parse-Session-Token": "r:stale"}
    seen = await statuses(http, 12, "GET", "/users/me", headers=stale)
    assert seen[:10] == [400] * 10
    assert seen[10:] == [429, 429]


async def test_wrong_passwords_end_in_429_and_the_right_one_still_logs_in(
    http: aiohttp.ClientSession,
) -> None:
    """Red team: 60 wrong passwords in a row were all answered 404, so a password could be guessed at
    full speed."""
    await sign_up(http, "alice")
    guess = {"username": "alice", "password": "guess"}
    seen = await statuses(http, 12, "POST", "/login", json=guess, headers=APP)
    assert seen[:10] == [404] * 10
    assert seen[10:] == [429, 429]
    status, body = await answer(
        await http.post("/login", json={"username": "alice", "password": "pw-123456"}, headers=APP)
    )
    assert status == 200
    assert body["sessionToken"]


async def test_wrong_logins_are_counted_per_account_so_other_accounts_still_answer(
    http: aiohttp.ClientSession,
) -> None:
    """A client that mistypes several accounts' passwords (a test suite, an office behind one address)
    is not locked out of the others: only the account being guessed answers 429."""
    await sign_up(http, "alice")
    await sign_up(http, "bob")
    alice = await statuses(
        http, 11, "POST", "/login", json={"username": "alice", "password": "x"}, headers=APP
    )
    bob = await statuses(http, 2, "POST", "/login", json={"username": "bob", "password": "x"}, headers=APP)
    assert (alice[-1], bob) == (429, [404, 404])
    status, _ = await answer(
        await http.post("/login", json={"username": "bob", "password": "pw-123456"}, headers=APP)
    )
    assert status == 200


async def test_a_batch_cannot_carry_password_guesses_past_the_limiter(http: aiohttp.ClientSession) -> None:
    await sign_up(http, "alice")
    guesses = [
        {"method": "POST", "path": "/login", "body": {"username": "alice", "password": f"g{n}"}}
        for n in range(50)
    ]
    seen = await statuses(http, 12, "POST", "/batch", json={"requests": guesses}, headers=APP)
    assert seen[:10] == [404] * 10  # each batch stops at its first wrong password
    assert seen[10:] == [429, 429]


# ---- ?authToken= on SSE routes only -------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/status"),
        ("GET", "/executions"),
        ("POST", "/admin/triggers"),
        ("DELETE", "/admin/workflows/hello"),
        ("POST", "/admin/workflows/reload"),
        ("PUT", "/admin/permissions"),
        ("POST", "/admin/keys"),
        ("DELETE", "/admin/roles/r1"),
    ],
)
async def test_an_auth_token_in_the_query_is_refused_off_the_sse_routes(
    http: aiohttp.ClientSession, method: str, path: str
) -> None:
    response = await http.request(method, path, params={"authToken": TOKEN}, json={})
    assert response.status == 401
    assert await response.json() == {"error": "Unauthorized."}


async def test_an_auth_token_in_the_query_opens_the_sse_routes(http: aiohttp.ClientSession) -> None:
    async with http.get("/executions/stream", params={"authToken": TOKEN}) as stream:
        assert stream.status == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
    realtime = {"Accept": "text/event-stream"}
    async with http.get("/realtime", params={"authToken": TOKEN}, headers=realtime) as stream:
        assert stream.status == 200
