"""Answers on the wire: JSON bodies, and every error in the one shape its clients expect.

- ``StoreError`` (and the file errors): ``{"code": <Parse code>, "error": msg}`` with the error's HTTP
  status (101 → 404, 119 → 403, 1 → 500, else 400).
- ``WebError`` and other sidecar errors: ``{"error": msg}`` (plus ``code`` when the error names one, as
  the function runtime's ``function/timeout`` does).
- anything else: 500 ``{"error": ...}`` — a real crash, the only 5xx the JS SDK should ever retry.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from sidecar.errors import SidecarError, StoreError, TooManyAttemptsError

JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Reply:
    """What a route answers, before it becomes an aiohttp response (batch reuses ``body`` directly)."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    is_json_text: bool = False
    """``body`` is already JSON text (a cloud function's own answer), written as-is."""


def encode(body: Any) -> bytes:
    """Compact UTF-8 JSON. orjson writes every answer it accepts several times faster than the json module
    (a query page costs ~40 µs less CPU); a non-finite number becomes ``null``, as JSON.stringify writes it.
    What orjson refuses (integers beyond 64 bits, non-string keys, a lone surrogate in echoed request text,
    an unknown type) goes the json module's way."""
    try:
        return orjson.dumps(body)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        pass
    # "replace": an answer that echoes request text (a Host header, a path) with bytes that were not
    # UTF-8 must still leave.
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "replace")


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        body=encode(body), status=status, content_type=JSON_TYPE, charset="utf-8", headers=headers
    )


def error_body(error: BaseException) -> dict[str, Any]:
    if isinstance(error, StoreError):
        return error.to_parse_body()
    if isinstance(error, SidecarError):
        body: dict[str, Any] = {"error": error.message}
        code = getattr(error, "code", None)
        if isinstance(code, int | str):
            body["code"] = code
        return body
    return {"error": "Internal server error."}


def error_status(error: BaseException) -> int:
    return error.http_status if isinstance(error, SidecarError) else 500


def error_response(error: BaseException) -> web.Response:
    status = error_status(error)
    headers = {"Connection": "close"} if status == 413 else {}
    if isinstance(error, TooManyAttemptsError):
        headers["Retry-After"] = str(error.retry_after_seconds)
    return json_response(error_body(error), status, headers)


def reply_response(reply: Reply) -> web.Response:
    if reply.is_json_text:
        return web.Response(
            text=reply.body,
            status=reply.status,
            content_type=JSON_TYPE,
            charset="utf-8",
            headers=reply.headers,
        )
    return json_response(reply.body, reply.status, reply.headers or None)
