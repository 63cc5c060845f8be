"""JSON text for the database: serialization, the contract's truncation markers, previews and sizes.

A value whose JSON is larger than the limit is stored as
``{"__truncated": true, "__originalSize": <bytes>, "__maxSize": <limit>, "__preview": <first chars>...}``;
a value that cannot be serialized as ``{"__error": "Failed to serialize data"}``. Events never carry stored
payloads whole: they carry :func:`preview` text and the byte size.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from sidecar.jsontext import compact_encoder
from sidecar.runtime.values import UNDEFINED

MAX_STORED_BYTES = 50 * 1024
STORED_PREVIEW_CHARS = 1000
EVENT_PREVIEW_CHARS = 256
SEARCH_BODY_MAX_CHARS = 16_000  # of an execution's full-text search body
SERIALIZE_FAILED = '{"__error":"Failed to serialize data"}'


@dataclass(frozen=True, slots=True)
class Payload:
    """A value ready to store: its (possibly truncated) JSON text and its full size in bytes."""

    text: str
    size: int

    @property
    def preview(self) -> str:
        return preview(self.text)


def _plain(value: Any) -> Any:
    """Fallback for the encoders: mappings and iterables become objects and arrays; anything else fails.
    Tuples first: the writer's rows are named tuples, one call per row."""
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    if value is UNDEFINED:
        return None
    to_json_method = getattr(value, "to_json", None)  # Noodl objects serialise themselves
    if callable(to_json_method):
        return to_json_method()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def finite(value: Any) -> Any:
    """JSON has no NaN or Infinity; JavaScript's JSON.stringify writes null for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


# No cycle check: values come from JSON or the JS engine; a cyclic one ends in RecursionError, caught
# like any failure.
_encode_compact = compact_encoder(allow_nan=False, default=_plain, check_circular=False)


def to_json(value: Any) -> str:
    """Compact JSON; NaN and Infinity become null, as JSON.stringify writes them."""
    try:
        return orjson.dumps(value, default=_plain).decode()  # several times faster than the json module
    except orjson.JSONEncodeError:  # integers beyond 64 bits, lone surrogates, non-string keys, cycles
        return _json_module_text(value)


def _json_module_text(value: Any) -> str:
    """``to_json`` for what orjson refuses."""
    try:
        return _encode_compact(value)
    except ValueError:
        return _finite_json(value)


def _finite_json(value: Any) -> str:
    plain = json.loads(json.dumps(value, default=_plain))
    return json.dumps(finite(plain), ensure_ascii=False, separators=(",", ":"))


def encode(value: Any, limit: int = MAX_STORED_BYTES) -> Payload:
    """Serialize ``value``; above ``limit`` bytes store the truncation marker instead."""
    try:
        encoded = orjson.dumps(value, default=_plain)  # UTF-8 already: its length is the size
        text, size = encoded.decode(), len(encoded)
    except orjson.JSONEncodeError:  # what orjson refuses (see to_json) goes the slow way
        try:
            text = _json_module_text(value)
        except (TypeError, ValueError, RecursionError):
            return Payload(SERIALIZE_FAILED, len(SERIALIZE_FAILED))
        size = len(text) if text.isascii() else _utf8_size(text)
    if size < 0:  # a lone surrogate (from a JSON "\ud800" escape) has no UTF-8 form: store it escaped
        text = json.dumps(json.loads(text), separators=(",", ":"))
        size = len(text)
    if size <= limit:
        return Payload(text, size)
    marker = {
        "__truncated": True,
        "__originalSize": size,
        "__maxSize": limit,
        "__preview": text[:STORED_PREVIEW_CHARS] + "...",
    }
    return Payload(json.dumps(marker, ensure_ascii=False, separators=(",", ":")), size)


def _utf8_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8; -1 when it holds a lone surrogate, which UTF-8 cannot carry."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return -1


def preview(text: str, chars: int = EVENT_PREVIEW_CHARS) -> str:
    return text if len(text) <= chars else text[:chars] + "..."


def decode(data: str | dict[str, Any] | None) -> Any:
    """Stored JSON text back to a value; ``None`` stays ``None`` (a dict not yet serialized is itself)."""
    return json.loads(data) if isinstance(data, str) else data


def as_text(data: str | dict[str, Any] | None, size: int) -> tuple[str | None, int]:
    """Step data as JSON text and its size in bytes, also for a dict the writer has not serialized yet."""
    if data is None or isinstance(data, str):
        return data, size
    payload = encode(data)
    return payload.text, payload.size
