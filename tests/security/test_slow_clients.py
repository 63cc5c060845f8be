"""Clients that open connections and never finish a request cannot keep them: a half-sent request is
closed after the idle time, so a slowloris client cannot hold the process's sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sidecar.backends.backend import Backend, BackendSpec
from sidecar.web import server
from tests.security.conftest import BACKEND_ID, TOKEN


@pytest.fixture
async def quick_idle_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Backend]:
    monkeypatch.setattr(server, "IDLE_CONNECTION_SECONDS", 1.0)
    served = Backend(BackendSpec(data_dir=tmp_path, backend_id=BACKEND_ID, name="Sec", admin_token=TOKEN))
    await served.start()
    yield served
    await served.stop()


async def test_a_request_whose_headers_never_end_is_closed_after_the_idle_time(
    quick_idle_backend: Backend,
) -> None:
    """Red team: 800 such connections stayed open (aiohttp's default keeps them an hour)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", quick_idle_backend.port)
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        await writer.drain()
        try:
            for _ in range(3):  # a byte now and then does not keep it open
                await asyncio.sleep(0.5)
                writer.write(b"a")
                await writer.drain()
            left = await asyncio.wait_for(reader.read(), 5)
        except ConnectionResetError:
            left = b""  # closed by the server while the client was still writing
        assert left == b""  # closed, with no answer
    finally:
        writer.close()


async def test_a_finished_request_is_still_answered(quick_idle_backend: Backend) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", quick_idle_backend.port)
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
        assert answer.startswith(b"HTTP/1.1 200")
    finally:
        writer.close()


async def test_an_open_event_stream_outlives_the_idle_time(quick_idle_backend: Backend) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", quick_idle_backend.port)
    try:
        writer.write(
            b"GET /realtime HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
            b"X-Parse-Application-Id: " + BACKEND_ID.encode() + b"\r\n\r\n"
        )
        await writer.drain()
        assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.1 200")
        await asyncio.sleep(2.5)  # past the idle time: the stream is a request still being answered
        assert not reader.at_eof()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(), 0.5)
    finally:
        writer.close()
