"""The frame decoder: ordinary messages, oversized and undecodable ones, garbage."""

from __future__ import annotations

from typing import Any

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.ipc.framing import FrameDecoder, RejectedMessage

LIMIT = 4096


def decode_in_chunks(stream: bytes, cuts: list[int], limit: int = LIMIT) -> list[Any]:
    decoder = FrameDecoder(limit)
    out: list[Any] = []
    start = 0
    for cut in [*sorted({min(max(c, 0), len(stream)) for c in cuts}), len(stream)]:
        out += decoder.feed(stream[start:cut])
        start = cut
    return out


requests = st.builds(
    lambda msgid, method, payload: [0, msgid, method, [payload]],
    st.integers(0, 2**32 - 1),
    st.text(min_size=1, max_size=30),
    st.binary(max_size=3000) | st.text(max_size=500) | st.integers(-(2**63), 2**64 - 1),
)


@given(st.lists(requests, max_size=30), st.lists(st.integers(0, 200_000), max_size=40))
def test_messages_come_out_whole_and_in_order_however_the_bytes_are_split(
    messages: list[Any], cuts: list[int]
) -> None:
    stream = b"".join(msgpack.packb(m) for m in messages)
    assert decode_in_chunks(stream, cuts) == messages


@given(
    st.lists(requests, max_size=5),
    st.integers(0, 2**32 - 1),
    st.integers(LIMIT + 1, 5 * LIMIT),
    st.lists(requests, max_size=5),
    st.lists(st.integers(0, 50_000), max_size=20),
)
def test_an_oversized_message_is_skipped_and_reported_with_its_id(
    before: list[Any], msgid: int, size: int, after: list[Any], cuts: list[int]
) -> None:
    big = msgpack.packb([0, msgid, "diagnostics:echo", [b"x" * size]])
    stream = b"".join(msgpack.packb(m) for m in before) + big + b"".join(msgpack.packb(m) for m in after)
    out = decode_in_chunks(stream, cuts)
    rejected = out[len(before)]
    assert out[: len(before)] == before
    assert isinstance(rejected, RejectedMessage)
    assert rejected.size == len(big)
    assert rejected.envelope.msgid == msgid
    assert rejected.envelope.method == "diagnostics:echo"
    assert f"exceeds the limit of {LIMIT} bytes" in rejected.reason
    assert out[len(before) + 1 :] == after


def test_a_message_the_c_decoder_refuses_is_skipped_and_the_stream_goes_on() -> None:
    too_deep = b"\x94\x00\x07\xa4deep\x91" + b"\x91" * 2000 + b"\x01"
    after = msgpack.packb([0, 8, "$/ping", []])
    out = FrameDecoder(LIMIT).feed(too_deep + after)
    assert isinstance(out[0], RejectedMessage)
    assert out[0].envelope.msgid == 7
    assert "nested too deeply" in out[0].reason
    assert out[1] == [0, 8, "$/ping", []]


def test_a_map_with_integer_keys_is_skipped_not_fatal() -> None:
    out = FrameDecoder(LIMIT).feed(msgpack.packb([0, 3, "m", [{1: 2}]]) + msgpack.packb(5))
    assert isinstance(out[0], RejectedMessage)
    assert out[0].envelope.msgid == 3
    assert out[1] == 5


def test_the_reserved_byte_is_fatal_but_what_came_before_it_is_delivered() -> None:
    decoder = FrameDecoder(LIMIT)
    ping = [0, 1, "$/ping", []]
    assert decoder.feed(msgpack.packb(ping) + b"\xc1" + msgpack.packb(ping)) == [ping]
    assert decoder.failure is not None
    assert "0xC1" in decoder.failure
    assert decoder.feed(msgpack.packb(ping)) == []  # nothing after the failure is trusted


@settings(max_examples=300)
@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000), max_size=10))
def test_random_bytes_give_values_rejections_or_a_fatal_error_and_nothing_else(
    garbage: bytes, cuts: list[int]
) -> None:
    decode_in_chunks(garbage, cuts, limit=256)  # never raises: a failure is reported, not thrown


@given(st.lists(requests, min_size=1, max_size=5), st.data())
def test_a_truncated_stream_yields_only_the_complete_messages(
    messages: list[Any], data: st.DataObject
) -> None:
    stream = b"".join(msgpack.packb(m) for m in messages)
    cut = data.draw(st.integers(0, len(stream) - 1))
    out = FrameDecoder(LIMIT).feed(stream[:cut])
    assert out == messages[: len(out)]
    assert len(out) < len(messages)
