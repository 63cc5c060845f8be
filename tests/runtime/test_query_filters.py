"""The local filter (the Filter Records node) bounds a ``$regex`` as the store does: a pattern that would
unroll into gigabytes is refused, and a backtracking one gives up on a value instead of holding the loop."""

from __future__ import annotations

import time

import pytest

from sidecar.errors import InvalidQueryError
from sidecar.runtime.objects import ModelScope
from sidecar.runtime.query_filters import matches


def test_a_regex_bomb_is_refused_before_it_compiles() -> None:
    model = ModelScope().create({"s": "aaaa"})
    for pattern in ("a{1000000000}", "(?:a{30000}){30000}"):
        with pytest.raises(InvalidQueryError):
            matches(model, {"s": {"$regex": pattern}})


def test_a_backtracking_regex_stops_and_does_not_match() -> None:
    scope = ModelScope()
    slow, plain = scope.create({"s": "a" * 34 + "!"}), scope.create({"s": "Banana"})
    started = time.monotonic()
    assert not matches(slow, {"s": {"$regex": "(a|aa)+$"}})  # seconds for ``re``; stopped at 50 ms
    assert time.monotonic() - started < 1.0
    assert matches(plain, {"s": {"$regex": "ban", "$options": "i"}})
    assert not matches(plain, {"s": {"$regex": "ban"}})
