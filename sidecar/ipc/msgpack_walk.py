"""Walk one msgpack object's structure without building it or buffering its payload.

The fast path decodes with msgpack's C ``Unpacker``. When a message is too large to
buffer, or the C decoder refuses it (too deeply nested, a map key type it rejects), this
walker finds where the message ends by reading only type headers and skipping payload
bytes, so the stream stays in sync and the session can answer "too large" to the
caller. On the way it captures the envelope's first fields (type, msgid, method).

Only the reserved byte 0xC1 makes a stream undecodable: every other byte starts a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# head byte -> (bytes of header after the head byte, kind)
# kinds: "scalar" (fixed payload = header bytes), "str"/"bin" (length in header),
# "ext" (length in header + 1 type byte), "array"/"map" (count in header)
_FIXED_HEADS: dict[int, tuple[int, str]] = {
    0xC0: (0, "scalar"),
    0xC2: (0, "scalar"),
    0xC3: (0, "scalar"),
    0xC4: (1, "bin"),
    0xC5: (2, "bin"),
    0xC6: (4, "bin"),
    0xC7: (2, "ext"),
    0xC8: (3, "ext"),
    0xC9: (5, "ext"),
    0xCA: (4, "scalar"),
    0xCB: (8, "scalar"),
    0xCC: (1, "uint"),
    0xCD: (2, "uint"),
    0xCE: (4, "uint"),
    0xCF: (8, "uint"),
    0xD0: (1, "int"),
    0xD1: (2, "int"),
    0xD2: (4, "int"),
    0xD3: (8, "int"),
    0xD4: (2, "scalar"),
    0xD5: (3, "scalar"),
    0xD6: (5, "scalar"),
    0xD7: (9, "scalar"),
    0xD8: (17, "scalar"),
    0xD9: (1, "str"),
    0xDA: (2, "str"),
    0xDB: (4, "str"),
    0xDC: (2, "array"),
    0xDD: (4, "array"),
    0xDE: (2, "map"),
    0xDF: (4, "map"),
}

_MAX_CAPTURED_METHOD = 1024


class InvalidMsgpackError(ValueError):
    """The stream holds the reserved byte 0xC1 where a value must start."""


@dataclass
class EnvelopeFields:
    """What could be read of a message's first three array elements."""

    is_array: bool = False
    kind: int | None = None
    msgid: int | None = None
    method: str | None = None


@dataclass
class MessageWalker:
    """Consumes bytes of exactly one top-level msgpack object, then reports ``done``."""

    size: int = 0
    done: bool = False
    envelope: EnvelopeFields = field(default_factory=EnvelopeFields)
    _stack: list[int] = field(default_factory=list)  # items left in each open container
    _skip: int = 0  # payload bytes still to discard
    _carry: bytes = b""  # an incomplete header from the previous chunk
    _capture: bytearray | None = None  # method string bytes being collected
    _index_at_top: int = -1  # index of the current item inside the top-level array

    def feed(self, data: bytes | memoryview) -> int:
        """Walk ``data``; return how many of its bytes belong to this message."""
        chunk = bytes(data)
        carried = len(self._carry)
        buf = self._carry + chunk if carried else chunk
        self._carry = b""
        pos = 0
        end = len(buf)
        while pos < end and not self.done:
            if self._skip:
                pos = self._skip_payload(buf, pos)
                continue
            needed = self._header_length(buf[pos])
            if pos + needed > end:
                self._carry = buf[pos:]
                pos = end
                break
            pos = self._read_header(buf, pos, needed)
        consumed = pos - carried if not self._carry else len(chunk)
        self.size += consumed
        return consumed

    @staticmethod
    def _header_length(head: int) -> int:
        if head == 0xC1:
            raise InvalidMsgpackError("reserved byte 0xC1 in the message stream")
        fixed = _FIXED_HEADS.get(head)
        return 1 + fixed[0] if fixed else 1

    def _skip_payload(self, buf: bytes, pos: int) -> int:
        take = min(self._skip, len(buf) - pos)
        if self._capture is not None:
            self._capture += buf[pos : pos + take]
        self._skip -= take
        if self._skip == 0:
            self._finish_payload()
        return pos + take

    def _read_header(self, buf: bytes, pos: int, needed: int) -> int:
        head = buf[pos]
        body = buf[pos + 1 : pos + needed]
        self._note_item_start()
        if head <= 0x7F or head >= 0xE0:
            self._capture_int(head if head <= 0x7F else head - 0x100)
            self._item_done()
        elif head <= 0x8F:
            self._open_container(2 * (head & 0x0F), is_array=False)
        elif head <= 0x9F:
            self._open_container(head & 0x0F, is_array=True)
        elif head <= 0xBF:
            self._start_payload(head & 0x1F, is_str=True)
        else:
            self._read_typed_header(head, body)
        return pos + needed

    def _read_typed_header(self, head: int, body: bytes) -> None:
        kind = _FIXED_HEADS[head][1]
        if kind == "scalar":
            self._item_done()
        elif kind in ("uint", "int"):
            self._capture_int(int.from_bytes(body, "big", signed=kind == "int"))
            self._item_done()
        elif kind in ("str", "bin"):
            self._start_payload(int.from_bytes(body, "big"), is_str=kind == "str")
        elif kind == "ext":
            # the header is the length followed by one type byte
            self._start_payload(int.from_bytes(body[:-1], "big"), is_str=False)
        else:
            count = int.from_bytes(body, "big")
            self._open_container(2 * count if kind == "map" else count, is_array=kind == "array")

    def _note_item_start(self) -> None:
        if len(self._stack) == 1:
            self._index_at_top += 1

    def _open_container(self, count: int, *, is_array: bool) -> None:
        if not self._stack:
            self.envelope.is_array = is_array
        self._stack.append(count)
        if count == 0:
            self._stack.pop()
            self._item_done()

    def _capture_int(self, value: int) -> None:
        if len(self._stack) != 1 or not self.envelope.is_array:
            return
        if self._index_at_top == 0:
            self.envelope.kind = value
        elif self._index_at_top == 1:
            self.envelope.msgid = value

    def _start_payload(self, length: int, *, is_str: bool) -> None:
        capture_method = (
            is_str
            and len(self._stack) == 1
            and self.envelope.is_array
            and self._index_at_top in (1, 2)
            and length <= _MAX_CAPTURED_METHOD
        )
        self._capture = bytearray() if capture_method else None
        self._skip = length
        if length == 0:
            self._finish_payload()

    def _finish_payload(self) -> None:
        if self._capture is not None:
            self.envelope.method = self._capture.decode("utf-8", errors="replace")
            self._capture = None
        self._item_done()

    def _item_done(self) -> None:
        while self._stack:
            self._stack[-1] -= 1
            if self._stack[-1] > 0:
                return
            self._stack.pop()
        self.done = True
