"""A request body must keep arriving (``sidecar.web.body_deadline``): a client trickling its body a byte
now and then is answered 408 and its connection closed, on every route that reads a body, while a large
upload sent at an ordinary pace still passes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from sidecar.backends.backend import Backend
from sidecar.web import body_deadline
from tests.security.conftest import ADMIN, APP, BACKEND_ID, TOKEN, answer
from tests.security.test_door_limits import create_webhook

WINDOW = 0.5
MIN_RATE = 64 * 1024
TIMED_OUT = {"code": 124, "error": "The request body arrived too slowly"}
# Each kind of route that reads a body: the Parse wire, a function, /api, an admin route, an upload,
# realtime subscriptions and a webhook.
ROUTES = [
    ("POST", "/classes/Slow"),
    ("POST", "/functions/hello"),
    ("POST", "/api/Slow"),
    ("PUT", "/admin/permissions"),
    ("POST", "/files/slow.txt"),
    ("POST", "/realtime/subscriptions"),
    ("POST", f"/hooks/{BACKEND_ID}/greet"),
]


@pytest.fixture
def quick_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A window of 0.5 s (set before the ``backend`` fixture starts the door that reads it)."""
    monkeypatch.setattr(body_deadline, "BODY_WINDOW_SECONDS", WINDOW)
    monkeypatch.setattr(body_deadline, "BODY_MIN_BYTES_PER_SECOND", MIN_RATE)


pytestmark = pytest.mark.usefixtures("quick_deadline")


async def trickle(port: int, method: str, path: str, head_extra: str = "") -> tuple[bytes, float]:
    """Declare a 1,000-byte body, send it a byte every 0.1 s; what the server answered and when."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    try:
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {TOKEN}\r\nX-Parse-Application-Id: {BACKEND_ID}\r\n{head_extra}"
            "Content-Length: 1000\r\n\r\n{".encode()
        )
        await writer.drain()

        async def read_answer() -> bytes:
            """To the end: the server must close the connection (a reset once the answer is in, as the
            client is still sending, is a close too)."""
            received = b""
            try:
                while chunk := await reader.read(65536):
                    received += chunk
            except ConnectionResetError:
                pass
            return received

        reading = asyncio.ensure_future(read_answer())
        try:
            for _ in range(100):  # 10 s of trickle at most
                if reading.done():
                    break
                await asyncio.sleep(0.1)
                writer.write(b" ")
                await writer.drain()
        except ConnectionError:
            pass  # closed by the server while the client was still writing
        answered = await asyncio.wait_for(reading, 5)
        return answered, time.monotonic() - started
    finally:
        writer.close()


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_trickled_body_is_answered_408_and_closed(
    backend: Backend, http: aiohttp.ClientSession, method: str, path: str
) -> None:
    """Red team: before, each such connection was held for as long as the client kept trickling."""
    secret = await create_webhook(http)
    answered, elapsed = await trickle(backend.port, method, path, f"X-Webhook-Token: {secret}\r\n")
    assert answered.startswith(b"HTTP/1.1 408"), answered[:200]
    assert json.loads(answered.split(b"\r\n\r\n", 1)[1]) == TIMED_OUT
    assert elapsed < 8  # the trickle would have gone on for 10 s


async def test_a_body_that_never_starts_is_answered_408(backend: Backend) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", backend.port)
    try:
        writer.write(
            b"POST /classes/Slow HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Parse-Application-Id: "
            + BACKEND_ID.encode()
            + b"\r\nContent-Length: 10\r\n\r\n"
        )
        await writer.drain()
        answered = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    assert answered.startswith(b"HTTP/1.1 408")


async def test_a_large_upload_at_an_ordinary_pace_passes(http: aiohttp.ClientSession) -> None:
    """4 MB in 64 KiB pieces at ~1 MB/s: many windows long, every window well over the minimum rate."""
    piece = b"x" * (64 * 1024)

    async def paced() -> AsyncIterator[bytes]:
        for _ in range(64):
            await asyncio.sleep(0.06)
            yield piece

    status, body = await answer(
        await http.post(
            "/files/big.bin",
            data=paced(),
            headers={**APP, **ADMIN, "Content-Type": "application/octet-stream"},
        )
    )
    assert status == 201, body
    assert body["name"].endswith("big.bin")


async def test_a_whole_body_sent_with_its_headers_is_answered_as_before(
    http: aiohttp.ClientSession,
) -> None:
    status, body = await answer(await http.post("/classes/Fast", json={"n": 1}, headers=APP))
    assert status == 201, body
