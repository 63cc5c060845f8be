"""Byte transport for the protocol: a read pipe in, a write pipe out.

Incoming chunks go through the ``FrameDecoder`` to a ``receive`` callback. Outgoing
frames written during one loop iteration leave in a single pipe write — unless that iteration is a
long one (a burst of runs can hold the loop for a second): a frame written more than ``_LATE_S`` after
the oldest one waiting sends them all at once, so events published during the stretch reach the
editor as they happen instead of at its end. When the pipe's
buffer passes its high-water mark, ``wait_writable`` makes producers wait, so a client
that stops reading bounds our memory instead of growing it.

Where asyncio cannot watch the descriptors (a regular file, /dev/null and other devices
epoll refuses, or Windows), one reader thread and one writer thread do blocking I/O
instead (docs/protocol.md, "Transport"), so such a stdin still ends in a clean EOF.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sidecar.ipc.framing import FrameDecoder

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

_READ_SIZE = 256 * 1024
_HIGH_WATER = 4 * 1024 * 1024
_LOW_WATER = 1024 * 1024
_PIPE_BYTES = 1024 * 1024  # Linux's default ceiling for unprivileged processes (/proc/sys/fs/pipe-max-size)
_LATE_S = 0.01
"""How long a frame may wait for the end of the loop iteration once more frames follow it."""


@dataclass(frozen=True)
class StreamCallbacks:
    """Where decoded messages and stream events go."""

    receive: Callable[[Any], None]
    eof: Callable[[], None]
    fatal: Callable[[str], None]


class _ReadProtocol(asyncio.Protocol):
    def __init__(self, decoder: FrameDecoder, callbacks: StreamCallbacks) -> None:
        self._decoder = decoder
        self._callbacks = callbacks
        self._failed = False

    def data_received(self, data: bytes) -> None:
        if self._failed:
            return
        receive = self._callbacks.receive
        for message in self._decoder.feed(data):
            receive(message)
        if self._decoder.failure is not None:
            self._failed = True
            self._callbacks.fatal(f"undecodable input: {self._decoder.failure}")

    def eof_received(self) -> bool:
        self._callbacks.eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._callbacks.eof()


class FrameWriter(asyncio.Protocol):
    """Coalescing, backpressure-aware writer; also the write pipe's protocol."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._frames: list[bytes] = []
        self._flush_scheduled = False
        self._transport: asyncio.WriteTransport | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        self._broken = False
        self._oldest = 0.0  # monotonic time of the oldest frame waiting

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.set_write_buffer_limits(high=_HIGH_WATER, low=_LOW_WATER)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._broken = True
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def write(self, frame: bytes) -> None:
        if self._broken:
            return
        frames = self._frames
        frames.append(frame)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._oldest = time.monotonic()
            self._loop.call_soon(self.flush)
        elif time.monotonic() - self._oldest > _LATE_S:
            self._send()

    def flush(self) -> None:
        self._flush_scheduled = False
        self._send()

    def _send(self) -> None:
        if not self._frames or self._transport is None or self._broken:
            return
        frames, self._frames = self._frames, []
        self._oldest = time.monotonic()
        self._transport.write(frames[0] if len(frames) == 1 else b"".join(frames))

    async def wait_writable(self) -> None:
        await self._writable.wait()

    async def drain(self, limit_s: float) -> None:
        """Flush and wait until the pipe has taken every byte, for at most ``limit_s``."""
        self.flush()
        transport = self._transport
        deadline = self._loop.time() + limit_s
        while transport is not None and not self._broken and transport.get_write_buffer_size():
            if self._loop.time() >= deadline:
                return
            await asyncio.sleep(0.005)


class _ThreadWriteTransport(asyncio.WriteTransport):
    """Blocking writes from a thread, for descriptors asyncio cannot watch."""

    def __init__(self, fd: int, protocol: FrameWriter, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._fd = fd
        self._protocol = protocol
        self._loop = loop
        self._buffered = 0
        self._lock = threading.Condition()
        self._queue: list[bytes] = []
        self._closed = False
        threading.Thread(target=self._run, name="ipc-writer", daemon=True).start()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        with self._lock:
            self._queue.append(bytes(data))
            self._buffered += len(data)
            if self._buffered > _HIGH_WATER:
                self._protocol.pause_writing()
            self._lock.notify()

    def get_write_buffer_size(self) -> int:
        return self._buffered

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """The thread's own marks (_HIGH_WATER, _LOW_WATER) apply; nothing to set."""

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._lock.wait()
                if not self._queue:
                    return
                chunk = b"".join(self._queue)
                self._queue.clear()
            try:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self._fd, view) :]
            except OSError as exc:
                self._loop.call_soon_threadsafe(self._protocol.connection_lost, exc)
                return
            with self._lock:
                self._buffered -= len(chunk)
                if self._buffered < _LOW_WATER:
                    self._loop.call_soon_threadsafe(self._protocol.resume_writing)


def _grow_pipe(fd: int) -> None:
    """Give an outgoing pipe room for a burst (Linux; 64 KiB by default, ~200 event notifications): while
    it is full, asyncio keeps our frames until the loop's next turn, which a burst of runs can hold off
    for a second. Anything else (a file, a socket, an older kernel, a lower limit) stays as it is."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is None:
        return
    with contextlib.suppress(OSError):
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            fcntl.fcntl(fd, set_size, _PIPE_BYTES)


def _read_thread(fd: int, protocol: _ReadProtocol, loop: asyncio.AbstractEventLoop) -> None:
    while True:
        try:
            chunk = os.read(fd, _READ_SIZE)
        except OSError:
            chunk = b""
        if not chunk:
            loop.call_soon_threadsafe(protocol.connection_lost, None)
            return
        loop.call_soon_threadsafe(protocol.data_received, chunk)


def _pollable(fd: int) -> bool:
    """Whether the event loop can watch ``fd``: pipes, sockets and terminals; not files or /dev/null."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or (stat.S_ISCHR(mode) and os.isatty(fd))


def _start_read_thread(fd: int, reader: _ReadProtocol, loop: asyncio.AbstractEventLoop) -> None:
    threading.Thread(target=_read_thread, args=(fd, reader, loop), name="ipc-reader", daemon=True).start()


async def open_pipes(
    read_fd: int, write_fd: int, writer: FrameWriter, decoder: FrameDecoder, callbacks: StreamCallbacks
) -> None:
    """Connect ``writer`` to ``write_fd`` and start feeding ``read_fd`` through ``decoder``."""
    loop = asyncio.get_running_loop()
    reader = _ReadProtocol(decoder, callbacks)
    _grow_pipe(write_fd)
    try:
        await loop.connect_write_pipe(lambda: writer, os.fdopen(write_fd, "wb", buffering=0, closefd=False))
    except (ValueError, OSError, NotImplementedError):
        writer.connection_made(_ThreadWriteTransport(write_fd, writer, loop))
    if not _pollable(read_fd):
        # asyncio would accept /dev/null and then fail to register it, leaving no EOF ever.
        _start_read_thread(read_fd, reader, loop)
        return
    try:
        await loop.connect_read_pipe(lambda: reader, os.fdopen(read_fd, "rb", buffering=0, closefd=False))
    except (ValueError, OSError, NotImplementedError):
        _start_read_thread(read_fd, reader, loop)
