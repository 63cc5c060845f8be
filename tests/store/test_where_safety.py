"""The where compiler refuses what it does not understand (never a wider result) and never lets request
text reach SQL as code."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.errors import (
    InvalidClassNameError,
    InvalidJsonError,
    InvalidKeyNameError,
    InvalidQueryError,
    StoreError,
)
from sidecar.store import CallerContext, QueryOptions, SqliteRecordStore, query_options_from_params


@pytest.fixture
async def seeded(store: SqliteRecordStore, master: CallerContext) -> SqliteRecordStore:
    for name in ("alice", "bob", "carol"):
        await store.create("Person", {"name": name, "age": len(name), "tags": [name[0]]}, master)
    return store


async def names(store: SqliteRecordStore, where: dict[str, Any], **options: Any) -> list[str]:
    result = await store.query("Person", QueryOptions(where=where, **options), CallerContext.master())
    return sorted(obj.get("name", "") for obj in result.results)


@pytest.mark.parametrize(
    ("where", "error", "code"),
    [
        ({"name": {"$foo": 1}}, InvalidJsonError, 107),
        ({"$where": "1 == 1"}, InvalidKeyNameError, 105),
        ({"$or": {"name": "alice"}}, InvalidQueryError, 102),
        ({"$nor": []}, InvalidQueryError, 102),
        ({"name": {"$in": "alice"}}, InvalidJsonError, 107),
        ({"tags": {"$containedBy": "a"}}, InvalidJsonError, 107),
        ({"name": {"$regex": "a", "$options": "z"}}, InvalidQueryError, 102),
        ({"name": {"$regex": "("}}, InvalidJsonError, 107),
        ({"name": {"$regex": 5}}, InvalidJsonError, 107),
        ({"name": {"$exists": "yes"}}, InvalidJsonError, 107),
        ({"ACL": {"*": {"read": True}}}, InvalidQueryError, 102),
        ({"name": {"$text": {"$search": "x"}}}, InvalidJsonError, 107),
        ({"name": {"$select": {"query": {"className": "Person"}}}}, InvalidQueryError, 102),
        ({"owner": {"$inQuery": {"where": {}}}}, InvalidQueryError, 102),
        ({"tags": {"$all": [{"$regex": "^a"}, "b"]}}, InvalidJsonError, 107),
        ({"age": {"$lt": [1]}}, InvalidJsonError, 107),
        ({"when": {"$lt": {"$relativeTime": "sometime"}}}, InvalidJsonError, 107),
        ({"bad name": 1}, InvalidKeyNameError, 105),
    ],
)
async def test_malformed_filters_are_errors_with_parse_codes(
    seeded: SqliteRecordStore, where: dict[str, Any], error: type[StoreError], code: int
) -> None:
    with pytest.raises(error) as raised:
        await names(seeded, where)
    assert raised.value.parse_code == code


async def test_unknown_query_parameter_is_code_102() -> None:
    with pytest.raises(InvalidQueryError, match="Invalid parameter for query: search"):
        query_options_from_params({"search": "x"})


INJECTIONS = [
    "x' OR '1'='1",
    'x" OR "1"="1',
    '\'; DROP TABLE "Person"; --',
    '") OR 1=1 --',
    'name" FROM "_User" --',
]


@pytest.mark.parametrize("payload", INJECTIONS)
async def test_injection_in_values_and_regexes_is_treated_as_data(
    seeded: SqliteRecordStore, payload: str
) -> None:
    assert await names(seeded, {"name": payload}) == []
    assert await names(seeded, {"name": {"$in": [payload, "bob"]}}) == ["bob"]
    assert await names(seeded, {"name": {"$regex": payload.replace("(", "").replace(")", "")}}) == []
    assert await names(seeded, {"name": {"$ne": payload}}) == ["alice", "bob", "carol"]


@pytest.mark.parametrize("payload", INJECTIONS)
async def test_injection_in_keys_is_refused(seeded: SqliteRecordStore, payload: str) -> None:
    with pytest.raises(StoreError):
        await names(seeded, {payload: 1})
    with pytest.raises(StoreError):
        await names(seeded, {f"meta.{payload}": 1})


@pytest.mark.parametrize("payload", INJECTIONS)
async def test_injection_in_order_strings_is_refused(seeded: SqliteRecordStore, payload: str) -> None:
    with pytest.raises(StoreError):
        await names(seeded, {}, order=(payload,))


@pytest.mark.parametrize("payload", INJECTIONS)
async def test_injection_in_class_names_is_refused(
    seeded: SqliteRecordStore, master: CallerContext, payload: str
) -> None:
    with pytest.raises(InvalidClassNameError):
        await seeded.create(payload, {"a": 1}, master)
    with pytest.raises(StoreError):
        await names(seeded, {"owner": {"$inQuery": {"className": payload, "where": {}}}})
    assert await names(seeded, {}) == ["alice", "bob", "carol"]  # nothing was dropped


async def test_injection_in_field_names_on_write_is_refused(
    seeded: SqliteRecordStore, master: CallerContext
) -> None:
    for payload in INJECTIONS:
        with pytest.raises(InvalidKeyNameError):
            await seeded.create("Person", {payload: 1}, master)
