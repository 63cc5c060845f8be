"""The door's deadline on request bodies: once a request's headers are in, its body must keep arriving.

Each window (``BODY_WINDOW_SECONDS``, 10 s) the body must grow by at least ``BODY_MIN_BYTES_PER_SECOND``
(8 KiB/s, slower than any real link) times the window, or be complete. The first window is the grace a
client gets to start sending. A body that falls behind makes its reader (whatever the route reads it
with: ``request.read()``, ``request.content``) raise :class:`~sidecar.errors.BodyTimeoutError`; the door
answers 408 and closes the connection. Without this, a client sending a byte every few seconds held a
connection and its buffers for as long as it liked, and a few hundred such clients exhausted the server.

A rate rather than a whole-body deadline, so that a 50 MB upload over a slow link still passes. A body
already whole when the handler starts (most of them: it came with the headers) costs no timer at all.
Half-sent headers are the keep-alive timeout's job (:mod:`sidecar.web.server`).
"""

from __future__ import annotations

import asyncio

from aiohttp import StreamReader

from sidecar.errors import BodyTimeoutError

BODY_WINDOW_SECONDS = 10.0
BODY_MIN_BYTES_PER_SECOND = 8 * 1024


class BodyWatch:
    """Checks one request body's progress once a window until it is whole, refused, or the request ends."""

    __slots__ = ("_handle", "_need", "_seen", "_stream", "_window", "expired")

    def __init__(self, stream: StreamReader, window: float, min_bytes_per_second: int) -> None:
        self._stream = stream
        self._window = window
        self._need = max(1, int(window * min_bytes_per_second))
        self._seen = stream.total_bytes
        self.expired = False
        """The body fell behind: its reader was failed, the connection must close."""
        self._handle = asyncio.get_running_loop().call_later(window, self._check)

    def _check(self) -> None:
        stream = self._stream
        if stream.is_eof() or stream.exception() is not None:
            return  # whole (or already failed by the transport): nothing left to watch
        received = stream.total_bytes
        if received - self._seen < self._need:
            self.expired = True
            # Wakes a reader waiting for the next chunk (or fails the next read) with the door's error.
            stream.set_exception(BodyTimeoutError())
            return
        self._seen = received
        self._handle = asyncio.get_running_loop().call_later(self._window, self._check)

    def stop(self) -> None:
        self._handle.cancel()


def watch_body(stream: StreamReader) -> BodyWatch | None:
    """A watch over a body still arriving, or ``None`` when it is already whole."""
    if stream.is_eof():
        return None
    return BodyWatch(stream, BODY_WINDOW_SECONDS, BODY_MIN_BYTES_PER_SECOND)
