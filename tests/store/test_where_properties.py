"""Property tests: for generated filters over generated rows, SQLite returns exactly the rows a plain
Python evaluation of Mongo semantics selects (``mongo_model``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidecar.store import CallerContext, QueryOptions, reads, writes
from sidecar.store import catalog as catalog_module
from sidecar.store.catalog import WorkingCatalog
from sidecar.store.matcher import RecordMatcher
from sidecar.store.schema import ClassSchema, FieldSchema
from sidecar.store.sqlite.connection import MEMORY, open_connection
from tests.store import mongo_model

SCHEMA = ClassSchema(
    "Row",
    {
        "n": FieldSchema("Number"),
        "s": FieldSchema("String"),
        "b": FieldSchema("Boolean"),
        "tags": FieldSchema("Array"),
        "d": FieldSchema("Date"),
        "meta": FieldSchema("Object"),
    },
)
DATES = [{"__type": "Date", "iso": f"2024-0{m}-01T00:00:00.000Z"} for m in (1, 2, 3)]

numbers = st.sampled_from([-2, -1, 0, 1, 2, 3, 1.5])
strings = st.sampled_from(["", "a", "ab", "b", "B", "a.b", "axb", "ba"])
scalars = st.one_of(numbers, strings, st.booleans())
array_items = st.one_of(st.integers(-2, 3), strings, st.booleans())
meta_values = st.one_of(st.integers(-2, 3), strings, st.lists(st.integers(-2, 3), max_size=3))

rows = st.fixed_dictionaries(
    {},
    optional={
        "n": numbers,
        "s": strings,
        "b": st.booleans(),
        "tags": st.lists(array_items, max_size=4),
        "d": st.sampled_from(DATES),
        "meta": st.fixed_dictionaries({}, optional={"x": meta_values}),
    },
)

FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "n": numbers,
    "s": strings,
    "b": st.booleans(),
    "tags": array_items,
    "d": st.sampled_from(DATES),
    "meta.x": st.integers(-2, 3) | strings,
    "zz": scalars,
}
any_value = st.one_of(scalars, st.sampled_from(DATES), st.none())


def field_constraint(field: str) -> st.SearchStrategy[Any]:
    typed = FIELD_VALUES[field]
    value = st.one_of(typed, any_value)
    comparable = st.one_of(typed, scalars)
    listed = st.lists(st.one_of(typed, any_value), max_size=3)
    options: list[st.SearchStrategy[Any]] = [
        value,
        st.builds(lambda v: {"$eq": v}, value),
        st.builds(lambda v: {"$ne": v}, value),
        st.builds(lambda op, v: {op: v}, st.sampled_from(["$lt", "$lte", "$gt", "$gte"]), comparable),
        st.builds(lambda v: {"$in": v}, listed),
        st.builds(lambda v: {"$nin": v}, listed),
        st.builds(lambda v: {"$exists": v}, st.booleans()),
        st.builds(lambda v: {"$all": v}, st.lists(typed, max_size=2)),
        st.builds(
            lambda p, o: {"$regex": p, "$options": o},
            st.sampled_from(["^a", "b$", "a.b", r"\Qa.b\E", "B", ""]),
            st.sampled_from(["", "i"]),
        ),
        st.builds(lambda lo, hi: {"$gte": lo, "$lt": hi}, typed, typed),
    ]
    if field == "tags":
        options.append(st.builds(lambda v: {"$containedBy": v}, st.lists(array_items, max_size=3)))
    return st.one_of(options)


leaf = st.sampled_from(sorted(FIELD_VALUES)).flatmap(
    lambda field: field_constraint(field).map(lambda c: {field: c})
)
wheres = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.builds(lambda a, b: {**a, **b}, inner, inner),
        st.builds(
            lambda op, subs: {op: subs},
            st.sampled_from(["$or", "$and", "$nor"]),
            st.lists(inner, min_size=1, max_size=3),
        ),
    ),
    max_leaves=5,
)


@contextmanager
def loaded(docs: list[dict[str, Any]]) -> Iterator[tuple[sqlite3.Connection, dict[str, ClassSchema]]]:
    connection = open_connection(MEMORY, readonly=False)
    try:
        catalog_module.bootstrap(connection)
        catalog = WorkingCatalog()
        catalog.create_class(connection, SCHEMA)
        ctx = writes.WriteContext(connection, catalog, CallerContext.master())
        for index, doc in enumerate(docs):
            writes.create(ctx, "Row", {**doc, "objectId": f"r{index}"})
        yield connection, catalog.snapshot()
    finally:
        connection.close()


def sql_ids(
    connection: sqlite3.Connection, schemas: dict[str, ClassSchema], where: dict[str, Any]
) -> set[str]:
    ctx = reads.ReadContext(connection, schemas, CallerContext.master())
    result = reads.query(ctx, "Row", QueryOptions(where=where, limit=-1))
    return {obj["objectId"] for obj in result.results}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(rows, max_size=8), where=wheres)
def test_sql_selects_exactly_the_rows_mongo_semantics_select(
    docs: list[dict[str, Any]], where: dict[str, Any]
) -> None:
    with loaded(docs) as (connection, schemas):
        expected = {f"r{i}" for i, doc in enumerate(docs) if mongo_model.matches(doc, where)}
        assert sql_ids(connection, schemas, where) == expected


@settings(max_examples=100, deadline=None)
@given(docs=st.lists(rows, min_size=1, max_size=6), where=wheres)
def test_negating_a_filter_with_nor_selects_the_complement(
    docs: list[dict[str, Any]], where: dict[str, Any]
) -> None:
    with loaded(docs) as (connection, schemas):
        chosen = sql_ids(connection, schemas, where)
        rejected = sql_ids(connection, schemas, {"$nor": [where]})
        assert chosen | rejected == {f"r{i}" for i in range(len(docs))}
        assert not chosen & rejected


@settings(max_examples=150, deadline=None)
@given(docs=st.lists(rows, min_size=1, max_size=6), where=wheres)
def test_the_realtime_matcher_agrees_with_queries(docs: list[dict[str, Any]], where: dict[str, Any]) -> None:
    matcher = RecordMatcher()
    try:
        with loaded(docs) as (connection, schemas):
            ctx = reads.ReadContext(connection, schemas, CallerContext.master())
            stored = reads.query(ctx, "Row", QueryOptions(limit=-1)).results
            chosen = sql_ids(connection, schemas, where)
            for record in stored:
                assert matcher.matches(schemas["Row"], where, record, CallerContext.master()) == (
                    record["objectId"] in chosen
                )
    finally:
        matcher.close()
