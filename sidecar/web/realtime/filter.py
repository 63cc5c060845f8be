"""Subscription filters: the Parse ``where`` grammar compiled to a predicate over one record.

The store answers queries in SQL; a change frame needs the same question asked of a single record in
memory (a deleted row no longer exists to query). The operators a filter can use here are the ones a
record alone can answer; the others (``$relatedTo``, ``$inQuery``, ``$select``, geo, ``$text``) are
refused when the subscription is made, never silently ignored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from sidecar import safe_regex
from sidecar.errors import StoreError
from sidecar.store.query_limits import check_where

Predicate = Callable[[Mapping[str, Any]], bool]
LOOP_MATCH_SECONDS = 0.05
"""A filter's regex on one record: change frames are matched on the event loop, which must stay free."""
LOOP_REGEX_SECONDS = 0.1
REGEX_WINDOW_SECONDS = 1.0
SLOW_MATCH_SECONDS = 0.001
"""Every filter's slow regex matching together, in the whole process: at most ``LOOP_REGEX_SECONDS`` of
CPU in each ``REGEX_WINDOW_SECONDS``, counting only matches that took over ``SLOW_MATCH_SECONDS`` (an
ordinary filter's match takes microseconds, however many subscribers there are). One bad filter costs its
client's subscriptions after ``LOOP_MATCH_SECONDS`` once; without a shared bound, many clients (or one
re-subscribing from many connections) would each cost that again. A match once the window's time is
spent fails at once, as one that ran out would. CPU time, so that a busy machine's scheduling does not
count as the regex's own."""
_MISSING = object()
_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
}


class UnsupportedFilterError(ValueError):
    """A filter the realtime door cannot evaluate; the message is the subscription's rejection reason."""


class FilterTimeoutError(Exception):
    """A filter's regex ran out of its ``LOOP_MATCH_SECONDS`` on a record (or of the loop's shared
    ``LOOP_REGEX_SECONDS``): the hub drops the subscriber's filters, so one subscription costs the loop
    that time once, not on every change of every copy of it."""


class _RegexBudget:
    """The time the loop's realtime regex matching may still take in the current window."""

    __slots__ = ("_left", "_window_ends")

    def __init__(self) -> None:
        self._window_ends = 0.0
        self._left = 0.0

    def allowance(self, now: float) -> float:
        if now >= self._window_ends:
            self._window_ends = now + REGEX_WINDOW_SECONDS
            self._left = LOOP_REGEX_SECONDS
        # A match gets its whole time while any of the window's is left (the window may then overrun by
        # one match): a sliver of leftover time would fail an ordinary filter's quick match.
        return LOOP_MATCH_SECONDS if self._left > 0 else 0.0

    def spend(self, seconds: float) -> None:
        self._left -= seconds


_LOOP_BUDGET = _RegexBudget()


def compile_filter(where: Any) -> Predicate:
    if where is None:
        return lambda record: True
    if not isinstance(where, Mapping):
        raise UnsupportedFilterError("filter must be a JSON object")
    try:
        check_where(where)  # the store's bounds: nesting, list lengths, size
    except StoreError as exc:
        raise UnsupportedFilterError(exc.message) from exc
    return _compile(where)


def _compile(where: Any) -> Predicate:
    if not isinstance(where, Mapping):
        raise UnsupportedFilterError("filter must be a JSON object")
    tests = [_clause(key, value) for key, value in where.items()]
    return lambda record: all(test(record) for test in tests)


def _clause(key: str, value: Any) -> Predicate:
    if key in ("$or", "$and", "$nor"):
        if not isinstance(value, list) or (key == "$nor" and not value):
            raise UnsupportedFilterError(f"{key} needs a non-empty array")
        parts = [_compile(part) for part in value]
        if key == "$or":
            return lambda record: any(part(record) for part in parts)
        if key == "$and":
            return lambda record: all(part(record) for part in parts)
        return lambda record: not any(part(record) for part in parts)
    if key.startswith("$"):
        raise UnsupportedFilterError(f"{key} is not supported in realtime filters")
    if key == "ACL":
        raise UnsupportedFilterError("Cannot query on ACL.")
    path = key.split(".")
    field_test = _field_test(value)
    return lambda record: field_test(_lookup(record, path))


def _lookup(record: Mapping[str, Any], path: list[str]) -> Any:
    value: Any = record
    for part in path:
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _is_operator_map(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value) and all(str(key).startswith("$") for key in value)


def _field_test(constraint: Any) -> Callable[[Any], bool]:
    if not _is_operator_map(constraint):
        expected = normalise(constraint)
        return lambda actual: _equals(actual, expected)
    made = [_operator(name, argument, constraint) for name, argument in constraint.items()]
    tests = [test for test in made if test is not None]
    return lambda actual: all(test(actual) for test in tests)


def _operator(name: str, argument: Any, constraint: Mapping[str, Any]) -> Callable[[Any], bool] | None:
    if name == "$eq":
        expected = normalise(argument)
        return lambda actual: _equals(actual, expected)
    if name == "$ne":
        expected = normalise(argument)
        return lambda actual: not _equals(actual, expected)
    if name in _ORDERING:
        return _ordered(_ORDERING[name], normalise(argument))
    if name in ("$in", "$nin"):
        if not isinstance(argument, list):
            raise UnsupportedFilterError(f"bad {name} value")
        options = [normalise(item) for item in argument]
        inside: Callable[[Any], bool] = lambda actual: any(_equals(actual, option) for option in options)  # noqa: E731
        return inside if name == "$in" else (lambda actual: not inside(actual))
    if name == "$exists":
        wanted = bool(argument)
        return lambda actual: (actual is not _MISSING and actual is not None) == wanted
    if name == "$all":
        return _contains_all(argument)
    if name == "$containedBy":
        return _contained_by(argument)
    if name == "$regex":
        return _regex(argument, constraint.get("$options", ""))
    if name == "$options":
        return None
    raise UnsupportedFilterError(f"{name} is not supported in realtime filters")


def normalise(value: Any) -> Any:
    """Typed values as comparable scalars: a Date as its ISO text, a Pointer (or included Object) as its
    class and id, so an included pointee still equals the pointer a filter names."""
    if isinstance(value, Mapping):
        kind = value.get("__type")
        if kind == "Date":
            return value.get("iso")
        if kind in ("Pointer", "Object"):
            return ("Pointer", value.get("className"), value.get("objectId"))
        return {key: normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalise(item) for item in value]
    return value


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(actual, bool) != isinstance(expected, bool):
        return False
    return bool(actual == expected)


def _equals(actual: Any, expected: Any) -> bool:
    """Mongo equality: ``null`` matches null or missing; an array field matches an element or itself."""
    if actual is _MISSING:
        return expected is None
    actual = normalise(actual)
    if isinstance(actual, list) and not isinstance(expected, list):
        return any(_same(item, expected) for item in actual)
    return _same(actual, expected)


def _ordered(compare: Callable[[Any, Any], bool], bound: Any) -> Callable[[Any], bool]:
    def test(actual: Any) -> bool:
        value = normalise(actual)
        both_numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (value, bound))
        both_strings = isinstance(value, str) and isinstance(bound, str)
        return (both_numbers or both_strings) and compare(value, bound)

    return test


def _contains_all(argument: Any) -> Callable[[Any], bool]:
    if not isinstance(argument, list):
        raise UnsupportedFilterError("bad $all value")
    wanted = [normalise(item) for item in argument]

    def test(actual: Any) -> bool:
        values = normalise(actual)
        return isinstance(values, list) and all(any(_same(v, w) for v in values) for w in wanted)

    return test


def _contained_by(argument: Any) -> Callable[[Any], bool]:
    if not isinstance(argument, list):
        raise UnsupportedFilterError("bad $containedBy: should be an array")
    allowed = [normalise(item) for item in argument]

    def test(actual: Any) -> bool:
        values = normalise(actual)
        return isinstance(values, list) and all(any(_same(v, a) for a in allowed) for v in values)

    return test


def translate_regex(pattern: str) -> str:
    """PCRE ``\\Q…\\E`` literal spans (the SDK's startsWith/contains) → escaped Python text."""
    return safe_regex.translate_pattern(pattern)


def _regex(pattern: Any, options: Any) -> Callable[[Any], bool]:
    """Checked and compiled as the store's ``$regex`` is; a match runs on the event loop, so it stops after
    ``LOOP_MATCH_SECONDS`` (or what is left of the loop's shared budget) and raises ``FilterTimeoutError``
    (the record is not delivered)."""
    if not isinstance(pattern, str) or not isinstance(options, str) or set(options) - set("imxs"):
        raise UnsupportedFilterError("bad regex")
    try:
        compiled = safe_regex.compile_pattern(pattern, options)
    except StoreError as exc:
        raise UnsupportedFilterError(exc.message) from exc

    def test(actual: Any) -> bool:
        if not isinstance(actual, str):
            return False
        allowance = _LOOP_BUDGET.allowance(time.monotonic())
        if allowance <= 0:
            raise FilterTimeoutError(pattern)
        started = time.thread_time()
        try:
            return compiled.search(actual, timeout=allowance) is not None
        except TimeoutError as exc:
            raise FilterTimeoutError(pattern) from exc
        finally:
            spent = time.thread_time() - started
            if spent > SLOW_MATCH_SECONDS:
                _LOOP_BUDGET.spend(spent)

    return test
