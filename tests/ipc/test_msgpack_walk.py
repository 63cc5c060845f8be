"""The walker finds where a msgpack value ends by reading headers only."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sidecar.ipc.msgpack_walk import InvalidMsgpackError, MessageWalker

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=300)
    | st.binary(max_size=70000)
    | st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=300))
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=20) | st.dictionaries(st.text(max_size=10), children, max_size=10)
    ),
    max_leaves=50,
)


def walk(data: bytes, chunk: int) -> tuple[MessageWalker, int]:
    walker = MessageWalker()
    used = 0
    for start in range(0, len(data), chunk):
        used += walker.feed(data[start : start + chunk])
        if walker.done:
            break
    return walker, used


@given(values, st.integers(min_value=1, max_value=5000), st.binary(max_size=20))
def test_the_walk_ends_exactly_where_the_value_ends(value: Any, chunk: int, trailing: bytes) -> None:
    packed = msgpack.packb(value, use_bin_type=True)
    walker, used = walk(packed + trailing, chunk)
    assert walker.done
    assert used == len(packed) == walker.size


@given(st.integers(0, 2**32 - 1), st.text(min_size=1, max_size=100), values, st.integers(1, 64))
def test_request_envelope_fields_are_captured(msgid: int, method: str, params: Any, chunk: int) -> None:
    walker, _ = walk(msgpack.packb([0, msgid, method, [params]]), chunk)
    assert (walker.envelope.kind, walker.envelope.msgid, walker.envelope.method) == (0, msgid, method)


def test_notification_method_is_captured() -> None:
    walker, _ = walk(msgpack.packb([2, "$/cancelRequest", [{"id": 1}]]), 3)
    assert walker.envelope.kind == 2
    assert walker.envelope.method == "$/cancelRequest"
    assert walker.envelope.msgid is None


def test_a_top_level_map_is_not_an_envelope() -> None:
    walker, _ = walk(msgpack.packb({"a": 1}), 1)
    assert walker.done
    assert not walker.envelope.is_array


def test_the_reserved_byte_is_invalid() -> None:
    with pytest.raises(InvalidMsgpackError):
        MessageWalker().feed(b"\x92\x01\xc1")


def test_nesting_deeper_than_the_c_decoder_allows_is_still_walked() -> None:
    deep = b"\x91" * 100_000 + b"\x01"
    walker, used = walk(deep, 4096)
    assert walker.done
    assert used == len(deep)
