"""msgpack-RPC envelopes: classify decoded values and build outgoing frames.

Request ``[0, msgid, method, params]``, response ``[1, msgid, error, result]``,
notification ``[2, method, params]``. Errors are ``{code, message, data?}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from sidecar.errors import InvalidRequestError, SidecarError

REQUEST, RESPONSE, NOTIFICATION = 0, 1, 2
MAX_MSGID = 2**32 - 1


@dataclass(frozen=True, slots=True)
class Request:
    msgid: int
    method: str
    params: list[Any]


@dataclass(frozen=True, slots=True)
class Response:
    msgid: int
    error: Any
    result: Any


@dataclass(frozen=True, slots=True)
class Notification:
    method: str
    params: list[Any]


Message = Request | Response | Notification


class MalformedEnvelopeError(InvalidRequestError):
    """A decoded value is not a msgpack-RPC envelope; ``msgid`` is set when one was readable."""

    def __init__(self, message: str, msgid: int | None = None) -> None:
        super().__init__(message)
        self.msgid = msgid


def classify(value: Any) -> Message:
    """Turn one decoded value into an envelope, or raise MalformedEnvelopeError."""
    if not isinstance(value, list) or not value:
        raise MalformedEnvelopeError(f"expected a msgpack-RPC array, got {type(value).__name__}")
    kind = value[0]
    if kind == REQUEST and len(value) == 4:
        _, msgid, method, params = value
        if not _is_msgid(msgid):
            raise MalformedEnvelopeError("request id must be an unsigned 32-bit integer")
        if not isinstance(method, str):
            raise MalformedEnvelopeError("request method must be a string", msgid)
        if not isinstance(params, list):
            raise MalformedEnvelopeError("request params must be an array", msgid)
        return Request(msgid, method, params)
    if kind == NOTIFICATION and len(value) == 3:
        _, method, params = value
        if not isinstance(method, str) or not isinstance(params, list):
            raise MalformedEnvelopeError("notification must be [2, method:string, params:array]")
        return Notification(method, params)
    if kind == RESPONSE and len(value) == 4 and _is_msgid(value[1]):
        return Response(value[1], value[2], value[3])
    msgid = value[1] if kind == REQUEST and len(value) > 1 and _is_msgid(value[1]) else None
    raise MalformedEnvelopeError(f"not a msgpack-RPC envelope (type {kind!r}, {len(value)} elements)", msgid)


def _is_msgid(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_MSGID


def error_object(code: int, message: str, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return error


def error_from(exc: SidecarError) -> dict[str, Any]:
    return error_object(exc.rpc_code, exc.message, exc.data)


class FrameEncoder:
    """Packs outgoing envelopes; one Packer reused (it is not thread-safe, nor needs to be)."""

    def __init__(self) -> None:
        self._packer = msgpack.Packer(use_bin_type=True, datetime=False)

    def response(self, msgid: int, error: Any, result: Any) -> bytes:
        packed: bytes = self._packer.pack([RESPONSE, msgid, error, result])
        return packed

    def notification(self, method: str, params: list[Any]) -> bytes:
        packed: bytes = self._packer.pack([NOTIFICATION, method, params])
        return packed
