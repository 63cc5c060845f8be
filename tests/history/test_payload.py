"""Stored JSON: the contract's truncation marker above the limit, the serialization-failure marker."""

from __future__ import annotations

import json

from sidecar.history.payload import (
    EVENT_PREVIEW_CHARS,
    MAX_STORED_BYTES,
    STORED_PREVIEW_CHARS,
    encode,
    preview,
)


def test_small_values_are_stored_as_compact_json_with_their_size() -> None:
    payload = encode({"name": "Zoë", "n": 1})
    assert payload.text == '{"name":"Zoë","n":1}'
    assert payload.size == len(payload.text.encode("utf-8"))


def test_values_over_the_limit_become_the_truncation_marker() -> None:
    value = {"blob": "x" * (MAX_STORED_BYTES + 10)}
    full = json.dumps(value, separators=(",", ":"))

    payload = encode(value)
    marker = json.loads(payload.text)

    assert marker == {
        "__truncated": True,
        "__originalSize": len(full),
        "__maxSize": MAX_STORED_BYTES,
        "__preview": full[:STORED_PREVIEW_CHARS] + "...",
    }
    assert payload.size == len(full)
    assert len(payload.text) < 2 * STORED_PREVIEW_CHARS


def test_a_value_exactly_at_the_limit_is_kept_whole() -> None:
    text_len = MAX_STORED_BYTES - 2  # the two quotes make it exactly the limit
    payload = encode("y" * text_len)
    assert payload.size == MAX_STORED_BYTES
    assert json.loads(payload.text) == "y" * text_len


def test_unserializable_values_store_the_error_marker() -> None:
    assert json.loads(encode({"f": object()}).text) == {"__error": "Failed to serialize data"}


def test_non_finite_numbers_become_null_as_in_javascript() -> None:
    assert json.loads(encode({"a": float("nan"), "b": [float("inf")]}).text) == {"a": None, "b": [None]}


def test_previews_are_short() -> None:
    assert preview("a" * 10) == "a" * 10
    assert preview("a" * 1000) == "a" * EVENT_PREVIEW_CHARS + "..."
