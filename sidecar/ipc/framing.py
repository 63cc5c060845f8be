"""Turn the incoming byte stream into decoded msgpack messages.

Messages are self-delimiting msgpack values with no length prefix. The C ``Unpacker``
decodes the ordinary ones. A message larger than the configured limit is never
buffered whole: once its bytes pass the limit the decoder walks the rest of it
(``msgpack_walk``) and reports a ``RejectedMessage`` carrying whatever envelope fields
were readable, so the session can answer the caller and carry on with the next
message. The same happens to a message the C decoder refuses (nesting too deep, map
keys it does not accept). Only bytes that are not msgpack at all are fatal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from sidecar.ipc.msgpack_walk import EnvelopeFields, InvalidMsgpackError, MessageWalker

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_FEED_SLICE = 1024 * 1024  # the C buffer never holds more than the limit plus one slice


class FatalStreamError(Exception):
    """The stream cannot be decoded any further; the channel must close."""


@dataclass(frozen=True)
class RejectedMessage:
    """A message that was skipped rather than decoded."""

    size: int
    envelope: EnvelopeFields
    reason: str


class FrameDecoder:
    def __init__(self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes
        self._unpacker = self._new_unpacker()
        self._pending = bytearray()  # bytes given to the unpacker after the last complete message
        self._boundary = 0  # the unpacker's tell() at the end of the last complete message
        self._walker: MessageWalker | None = None
        self._walk_reason = ""
        self.failure: str | None = None

    def _new_unpacker(self) -> msgpack.Unpacker:
        limit = self.max_message_bytes
        return msgpack.Unpacker(
            raw=False,
            max_buffer_size=limit + _FEED_SLICE,
            max_str_len=limit,
            max_bin_len=limit,
            max_array_len=limit,
            max_map_len=limit,
            max_ext_len=limit,
        )

    def feed(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """Return every message completed by ``data`` (values or ``RejectedMessage``s).

        Bytes that are not msgpack end the stream: the messages before them are still
        returned (a request answered before garbage arrived is answered), ``failure``
        says why, and later input is ignored.
        """
        out: list[Any] = []
        if self.failure is not None:
            return out
        try:
            self._feed(memoryview(data), out)
        except FatalStreamError as exc:
            self.failure = str(exc)
        return out

    def _feed(self, rest: memoryview, out: list[Any]) -> None:
        while len(rest):
            if self._walker is not None:
                rest = rest[self._walk(rest, out) :]
                continue
            piece, rest = rest[:_FEED_SLICE], rest[_FEED_SLICE:]
            handed_back = self._decode(piece, out)
            if handed_back:
                rest = memoryview(handed_back + bytes(rest))

    def _decode(self, data: memoryview, out: list[Any]) -> bytes:
        """Decode with the C unpacker; return bytes to walk when it gives up on a message."""
        unpacker = self._unpacker
        unpacker.feed(data)
        self._pending += data
        # tell() also moves inside a message still arriving, so only its value right
        # after a complete message marks a boundary.
        boundary = self._boundary
        failure = ""
        try:
            for message in unpacker:
                out.append(message)
                boundary = unpacker.tell()
        except msgpack.StackError:
            failure = "message could not be decoded: nested too deeply"
        except (ValueError, msgpack.UnpackException) as exc:
            failure = f"message could not be decoded: {exc or type(exc).__name__}"
        del self._pending[: boundary - self._boundary]
        self._boundary = boundary
        if failure:
            return self._begin_walk(failure)
        if len(self._pending) > self.max_message_bytes:
            return self._begin_walk("message too large")
        return b""

    def _begin_walk(self, reason: str) -> bytes:
        held = bytes(self._pending)
        self._pending.clear()
        self._unpacker = self._new_unpacker()
        self._boundary = 0
        self._walker = MessageWalker()
        self._walk_reason = reason
        return held

    def _walk(self, data: memoryview, out: list[Any]) -> int:
        walker = self._walker
        assert walker is not None
        try:
            used = walker.feed(data[:_FEED_SLICE])
        except InvalidMsgpackError as exc:
            raise FatalStreamError(str(exc)) from exc
        if walker.done:
            self._walker = None
            too_large = walker.size > self.max_message_bytes
            reason = f"message of {walker.size} bytes exceeds the limit of {self.max_message_bytes} bytes"
            out.append(
                RejectedMessage(walker.size, walker.envelope, reason if too_large else self._walk_reason)
            )
        return used
