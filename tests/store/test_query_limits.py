"""Queries are bounded: oversized regexes, nesting, lists and pages are refused with 102 before they cost
memory or time, a regex's matching time is one budget per query, and costly reads never take the readers
plain reads need. (The memory bombs themselves run only against a memory-limited server, in
``tests/security/test_query_bombs.py``.)"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from sidecar.errors import InvalidJsonError, InvalidQueryError, QueryTimeoutError, StoreError
from sidecar.safe_regex import MAX_PATTERN_LENGTH, expanded_size
from sidecar.store import (
    BatchMethod,
    BatchOp,
    CallerContext,
    QueryOptions,
    SqliteRecordStore,
    query_options_from_params,
)

MASTER = CallerContext.master()


async def found(store: SqliteRecordStore, where: dict[str, Any]) -> list[Any]:
    return (await store.query("Item", QueryOptions(where=where), MASTER)).results


async def refused(store: SqliteRecordStore, where: dict[str, Any]) -> StoreError:
    with pytest.raises(StoreError) as raised:
        await found(store, where)
    return raised.value


def nested(operator: str, depth: int, leaf: dict[str, Any]) -> dict[str, Any]:
    where = leaf
    for _ in range(depth):
        where = {operator: [where, {"n": 1}]}
    return where


@pytest.fixture
async def items(store: SqliteRecordStore) -> SqliteRecordStore:
    await store.create("Item", {"s": "abc", "n": 1, "meta": {"a": "x"}, "tags": ["a"]}, MASTER)
    return store


# ---- regular expressions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        "a{5000}",  # one count above 1,000
        "a{2,5000}",
        "(?:a{100}){100}",  # 10,000 unrolled items, nested
        "(?:(?:ab){50}c){70}",
        "x" * (MAX_PATTERN_LENGTH + 1),
    ],
)
async def test_a_regex_too_large_to_compile_safely_is_refused_with_102(
    items: SqliteRecordStore, pattern: str
) -> None:
    error = await refused(items, {"s": {"$regex": pattern}})
    assert isinstance(error, InvalidQueryError)
    assert error.parse_code == 102
    assert error.http_status == 400
    assert "$regex" in error.message


@pytest.mark.parametrize(
    ("pattern", "options", "hit"),
    [
        (r"^\w{3}$", "", True),
        (r"^[a-c]{1,3}$", "", True),
        (r"^\Qa{99999}\E", "", False),  # a literal span: braces are text, not a count
        (r"(?:a|b|c){3}", "", True),
        ("^a b c $ # comment with a{99999}", "x", True),  # verbose: the comment is not a count
        ("x" * MAX_PATTERN_LENGTH, "", False),
        (r"\p{L}{3}", "", True),
    ],
)
async def test_ordinary_regexes_still_match(
    items: SqliteRecordStore, pattern: str, options: str, hit: bool
) -> None:
    assert bool(await found(items, {"s": {"$regex": pattern, "$options": options}})) is hit


@pytest.mark.parametrize("pattern", ["(unclosed", "[z-a]", "a**"])
async def test_a_regex_that_does_not_compile_stays_107(items: SqliteRecordStore, pattern: str) -> None:
    error = await refused(items, {"s": {"$regex": pattern}})
    assert isinstance(error, InvalidJsonError)
    assert error.parse_code == 107


@pytest.mark.parametrize(
    ("pattern", "size"),
    [
        ("abc", 3),
        (r"\d{4}-\d{2}", 7),
        ("(?:a{30}){30}", 930),  # ``?`` is a quantifier, ``:`` counts as an item: an estimate that errs high
        ("[{]{3}", 3),
        (r"\{5000\}", 6),
        (r"\N{DIGIT ONE}{2}", 2),
        ("a{3,}", 3),
        ("a{,4}", 4),
        ("a*b+c?", 3),
    ],
)
def test_expanded_size_unrolls_counts_only(pattern: str, size: int) -> None:
    assert expanded_size(pattern) == size


@pytest.mark.sqlite_only(
    "the per-query regex budget is the SQLite store's Python matcher; PostgreSQL's regex engine does not "
    "backtrack, and statement_timeout bounds it"
)
async def test_regex_matching_time_is_one_budget_for_the_whole_query(store: SqliteRecordStore) -> None:
    # Each row costs ~0.1 s of backtracking, ~4 s in all: well inside the 10 s read limit, which was the
    # only bound before; the 2 s regex budget is shared by every row a query tests.
    rows = [BatchOp(BatchMethod.CREATE, "Item", {"s": "a" * 26 + "!"}) for _ in range(35)]
    await store.batch(rows, MASTER, transaction=True)
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError) as raised:
        await found(store, {"s": {"$regex": "(a|aa)+$"}})
    assert raised.value.parse_code == 124
    assert raised.value.http_status == 400
    assert "$regex" in raised.value.message
    assert time.monotonic() - started < 9


async def test_costly_reads_never_hold_the_reader_a_plain_read_needs(tmp_path: Path) -> None:
    # A short regex budget keeps the test short; the readers are the default ones.
    store = await SqliteRecordStore.open(tmp_path / "redos.db", regex_budget=0.5)
    try:
        target = await store.create("Item", {"s": "a" * 30_000 + "!"}, MASTER)
        redos = [asyncio.create_task(found(store, {"s": {"$regex": "(a|aa)+$"}})) for _ in range(8)]
        await asyncio.sleep(0.2)  # the eight are running or queued
        started = time.monotonic()
        fetched = await store.fetch("Item", target.object_id, MASTER)
        listed = await store.query("Item", QueryOptions(limit=1, keys=("n",)), MASTER)
        waited = time.monotonic() - started
        assert fetched["objectId"] == target.object_id
        assert listed.results
        assert waited < 1.0, f"a plain read waited {waited:.1f} s behind regex queries"
        outcomes = await asyncio.gather(*redos, return_exceptions=True)
        assert all(isinstance(o, QueryTimeoutError) and o.parse_code == 124 for o in outcomes), outcomes
    finally:
        await store.close()


# ---- shape of the where -----------------------------------------------------------------------------


@pytest.mark.parametrize("operator", ["$and", "$or", "$nor"])
async def test_nesting_100_deep_is_refused_with_102(items: SqliteRecordStore, operator: str) -> None:
    error = await refused(items, nested(operator, 100, {"s": "abc"}))
    assert isinstance(error, InvalidQueryError)
    assert error.parse_code == 102
    assert "deep" in error.message


@pytest.mark.parametrize("operator", ["$and", "$or", "$nor"])
async def test_nesting_16_deep_with_the_heaviest_leaves_still_runs(
    items: SqliteRecordStore, operator: str
) -> None:
    leaf = {"meta.a": {"$regex": "x"}, "tags": {"$all": ["a"]}, "n": {"$nin": [2, 3]}}
    await found(items, nested(operator, 16, leaf))  # no error: SQLite's parser takes it


async def test_a_deep_subquery_counts_as_nesting(items: SqliteRecordStore) -> None:
    where: dict[str, Any] = {"s": "abc"}
    for _ in range(40):
        where = {"s": {"$select": {"query": {"className": "Item", "where": where}, "key": "s"}}}
    error = await refused(items, where)
    assert isinstance(error, InvalidQueryError)
    assert error.parse_code == 102


@pytest.mark.parametrize(
    "where",
    [
        {"$or": [{"n": i} for i in range(100_000)]},
        {"n": {"$in": list(range(100_000))}},
        {"tags": {"$all": [str(i) for i in range(100_000)]}},
        {"$and": [{"n": {"$ne": i}} for i in range(5_000)]},  # 5,000 conditions: seconds of planning
        pytest.param(
            {"meta.a": {"$in": [str(i) for i in range(5_000)]}},
            # SQLite plans one term per value on an Object path; PostgreSQL binds the list as one array
            marks=pytest.mark.sqlite_only("one term per value is SQLite's planner cost only"),
        ),
    ],
    ids=["or-100000", "in-100000", "all-100000", "and-5000", "in-object-path-5000"],
)
async def test_oversized_lists_are_refused_with_102(items: SqliteRecordStore, where: dict[str, Any]) -> None:
    error = await refused(items, where)
    assert isinstance(error, InvalidQueryError)
    assert error.parse_code == 102


async def test_long_lists_within_the_bounds_run(items: SqliteRecordStore) -> None:
    assert await found(items, {"$or": [{"n": i} for i in range(1_000)]})  # a chain SQLite once refused
    assert await found(items, {"n": {"$in": list(range(10_000))}})
    assert await found(items, {"tags": {"$in": [str(i) for i in range(1_000)] + ["a"]}})


async def test_json_nested_deeper_than_the_decoder_allows_is_102() -> None:
    with pytest.raises(InvalidQueryError):
        query_options_from_params({"where": '{"a":' * 5_000 + "1" + "}" * 5_000})


# ---- paging -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 99999999999999999999},
        {"limit": "99999999999999999999"},
        {"skip": 99999999999999999999},
        {"limit": 1e400},
        {"limit": -1},
        {"skip": -5},
    ],
)
async def test_limit_and_skip_out_of_range_are_102(items: SqliteRecordStore, params: dict[str, Any]) -> None:
    with pytest.raises(InvalidQueryError) as raised:
        await items.query("Item", query_options_from_params(params), MASTER)
    assert raised.value.parse_code == 102


async def test_the_store_refuses_a_page_sqlite_cannot_hold_from_any_door(items: SqliteRecordStore) -> None:
    for options in (QueryOptions(limit=2**63), QueryOptions(skip=2**64)):
        with pytest.raises(InvalidQueryError):
            await items.query("Item", options, MASTER)
    assert (await items.query("Item", QueryOptions(limit=2**63 - 1), MASTER)).results


async def test_the_change_matcher_stops_a_backtracking_regex_with_124(items: SqliteRecordStore) -> None:
    # Trigger filters are matched on the event loop: a record the regex cannot decide in 50 ms is a 124
    # (which the trigger logs and skips), not a second-long stall ending in a raw sqlite3 error.
    record = {"objectId": "r1", "s": "a" * 34 + "!"}
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError):
        items.matches("Item", {"s": {"$regex": "(a|aa)+$"}}, record, MASTER)
    assert time.monotonic() - started < 0.9
    assert items.matches("Item", {"s": {"$regex": "^a+!$"}}, record, MASTER)


@pytest.mark.parametrize("option", ["keys", "exclude_keys", "include", "order"])
async def test_name_lists_past_1000_are_refused_with_102(items: SqliteRecordStore, option: str) -> None:
    names: dict[str, Any] = {option: tuple(f"f{i}" for i in range(1_001))}
    with pytest.raises(InvalidQueryError) as raised:
        await items.query("Item", QueryOptions(**names), MASTER)
    assert raised.value.parse_code == 102
    names[option] = names[option][:1_000]
    assert (await items.query("Item", QueryOptions(**names), MASTER)).results
