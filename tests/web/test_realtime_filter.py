"""The realtime filter agrees with the store's query engine: same grammar, same answers.

A differential test: random filters over a fixed data set, each asked of the store (SQL) and of the
in-memory predicate used for change frames; the matching ids must be identical.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from sidecar.store import CallerContext, QueryOptions, SqliteRecordStore
from sidecar.web.realtime.filter import (
    FilterTimeoutError,
    UnsupportedFilterError,
    compile_filter,
    translate_regex,
)

MASTER = CallerContext.master()
ROWS: list[dict[str, Any]] = [
    {"n": 1, "s": "apple", "tags": ["a", "b"], "meta": {"x": 1}, "ok": True},
    {"n": 2, "s": "Banana", "tags": ["b"], "meta": {"x": 2}, "ok": False},
    {"n": 3, "s": "cherry", "tags": [], "ok": True},
    {"n": 10, "s": "apple pie", "tags": ["a", "c"], "meta": {"x": 1}},
    {"s": "date", "tags": ["c"]},
    {"n": -4.5, "tags": ["a", "b", "c"], "ok": False},
    {"n": 2, "s": "a.b", "meta": {"y": "z"}},
]


def random_constraint(rng: random.Random) -> tuple[str, Any]:
    numbers = [-4.5, 0, 1, 2, 3, 10, 11]
    field_name = rng.choice(["n", "s", "tags", "ok", "meta.x"])
    values: dict[str, list[Any]] = {
        "n": numbers,
        "s": ["apple", "Banana", "date", "zzz", "a.b"],
        "tags": ["a", "b", "c", "d"],
        "ok": [True, False],
        "meta.x": [1, 2, 3],
    }
    value = rng.choice(values[field_name])
    kind = rng.choice(["eq", "$eq", "$ne", "$in", "$nin", "$exists", "$lt", "$gte", "$regex", "$all", "null"])
    if kind == "eq":
        return field_name, value
    if kind == "null":
        return field_name, None
    if kind in ("$in", "$nin"):
        return field_name, {kind: rng.sample(values[field_name], rng.randint(0, 2))}
    if kind == "$exists":
        return field_name, {"$exists": rng.choice([True, False])}
    if kind in ("$lt", "$gte"):
        return field_name, {kind: rng.choice(numbers) if field_name != "s" else rng.choice(["b", "apple"])}
    if kind == "$regex":
        return "s", {"$regex": rng.choice(["^a", "e$", "\\Qa.b\\E", "an"]), "$options": rng.choice(["", "i"])}
    if kind == "$all":
        return "tags", {"$all": rng.sample(["a", "b", "c"], rng.randint(1, 2))}
    return field_name, {kind: value}


def random_filter(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    if depth < 2 and rng.random() < 0.25:
        combinator = rng.choice(["$or", "$and", "$nor"])
        return {combinator: [random_filter(rng, depth + 1) for _ in range(rng.randint(1, 3))]}
    return dict(random_constraint(rng) for _ in range(rng.randint(1, 2)))


@pytest.fixture
async def loaded(store: SqliteRecordStore) -> dict[str, dict[str, Any]]:
    rows = {}
    for row in ROWS:
        created = await store.create("Fruit", row, MASTER)
        rows[created.object_id] = created.object
    return rows


async def test_random_filters_match_the_same_rows_as_the_store(
    store: SqliteRecordStore, loaded: dict[str, dict[str, Any]]
) -> None:
    rng = random.Random(20261125)
    for _ in range(300):
        where = random_filter(rng)
        result = await store.query("Fruit", QueryOptions(where=where, limit=1000), MASTER)
        expected = {row["objectId"] for row in result.results}
        predicate = compile_filter(where)
        actual = {object_id for object_id, row in loaded.items() if predicate(row)}
        assert actual == expected, where


def test_pointer_filters_match_pointers_and_included_objects() -> None:
    pointer = {"__type": "Pointer", "className": "Team", "objectId": "t1"}
    predicate = compile_filter({"team": pointer})
    assert predicate({"team": pointer})
    assert predicate({"team": {"__type": "Object", "className": "Team", "objectId": "t1", "name": "x"}})
    assert not predicate({"team": {**pointer, "objectId": "t2"}})


def test_date_filters_compare_instants() -> None:
    predicate = compile_filter({"when": {"$gt": {"__type": "Date", "iso": "2024-01-01T00:00:00.000Z"}}})
    assert predicate({"when": {"__type": "Date", "iso": "2024-06-01T00:00:00.000Z"}})
    assert not predicate({"when": {"__type": "Date", "iso": "2023-06-01T00:00:00.000Z"}})
    assert not predicate({})


@pytest.mark.parametrize(
    "where",
    [
        {"$relatedTo": {"object": {}, "key": "k"}},
        {"n": {"$bogus": 1}},
        {"n": {"$in": "not a list"}},
        {"ACL": {"*": {"read": True}}},
        {"s": {"$regex": "("}},
        {"$or": "not a list"},
        [1, 2],
    ],
)
def test_filters_it_cannot_evaluate_are_refused(where: Any) -> None:
    with pytest.raises(UnsupportedFilterError):
        compile_filter(where)


def test_quoted_regex_spans_are_literal() -> None:
    assert translate_regex("^\\Qa.b\\E") == "^a\\.b"
    assert translate_regex("\\Qx*\\E$") == "x\\*$"


@pytest.mark.parametrize(
    "where",
    [
        {"s": {"$regex": "a{1000000000}"}},  # the regex engine would unroll it into gigabytes
        {"s": {"$regex": "(?:a{30000}){30000}"}},
        {"s": {"$regex": "x" * 1_001}},
        {"s": {"$in": list(range(100_000))}},
    ],
    ids=["count", "nested-counts", "long", "long-list"],
)
def test_filters_past_the_query_bounds_are_refused(where: Any) -> None:
    with pytest.raises(UnsupportedFilterError):
        compile_filter(where)


def test_a_filter_nested_past_the_bound_is_refused_not_a_recursion_error() -> None:
    where: dict[str, Any] = {"s": "x"}
    for _ in range(2_000):
        where = {"$or": [where]}
    with pytest.raises(UnsupportedFilterError, match="deep"):
        compile_filter(where)


def test_a_backtracking_regex_gives_up_on_a_record_instead_of_holding_the_loop() -> None:
    predicate = compile_filter({"s": {"$regex": "(a|aa)+$"}})
    started = time.monotonic()
    with pytest.raises(FilterTimeoutError):  # seconds of backtracking for ``re``; stopped at 50 ms
        predicate({"s": "a" * 34 + "!"})
    assert time.monotonic() - started < 1.0
    assert predicate({"s": "aaaa"})
