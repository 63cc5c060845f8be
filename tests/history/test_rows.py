"""Execution ids: ``exec_`` + base36 of the start in epoch milliseconds + 8 random base36 characters."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sidecar.history.rows import base36, new_execution_id


@given(st.integers(min_value=0, max_value=2**64))
def test_base36_reads_back_as_the_same_number(number: int) -> None:
    text = base36(number)
    assert int(text, 36) == number
    assert text == "0" or not text.startswith("0")


def test_an_execution_id_starts_with_its_start_time() -> None:
    at = 1_796_000_000_000
    first, second = new_execution_id(at), new_execution_id(at)
    assert first.startswith("exec_" + base36(at))
    assert len(first) == len("exec_") + len(base36(at)) + 8
    assert first != second
