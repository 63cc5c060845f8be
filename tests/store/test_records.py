"""Records end to end through the async store: writes, types, update operators, queries, relations."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from sidecar.errors import (
    CommandUnavailableError,
    DuplicateObjectIdError,
    IncorrectTypeError,
    InvalidJsonError,
    InvalidKeyNameError,
    ObjectNotFoundError,
    PreconditionFailedError,
    RequestFailedError,
)
from sidecar.store import CallerContext, FetchOptions, QueryOptions, SqliteRecordStore

POINTER = {"__type": "Pointer", "className": "Team", "objectId": "t1"}
DATE = {"__type": "Date", "iso": "2024-05-06T07:08:09.123Z"}


async def ids(store: SqliteRecordStore, class_name: str, where: dict[str, Any], **options: Any) -> list[str]:
    result = await store.query(class_name, QueryOptions(where=where, **options), CallerContext.master())
    return [obj["objectId"] for obj in result.results]


async def test_create_answers_object_id_and_created_at_only(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    created = await store.create("Item", {"name": "a"}, master)
    assert set(created.to_wire()) == {"objectId", "createdAt"}
    assert created.created_at.endswith("Z")
    assert len(created.created_at) == 24


async def test_every_type_round_trips_in_rest_encoding(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    body = {
        "s": "text",
        "n": 2.5,
        "i": 3,
        "b": False,
        "d": DATE,
        "o": {"k": [1, {"x": None}]},
        "a": [1, "two", True],
        "p": POINTER,
        "f": {"__type": "File", "name": "a.png", "url": "http://x/a.png"},
        "g": {"__type": "GeoPoint", "latitude": 10.5, "longitude": -20.25},
        "poly": {"__type": "Polygon", "coordinates": [[0, 0], [0, 1], [1, 1]]},
        "bytes": {"__type": "Bytes", "base64": "AAEC"},
        "empty": {},
    }
    created = await store.create("Item", body, master)
    fetched = await store.fetch("Item", created.object_id, master)
    expected = {**body, "poly": {"__type": "Polygon", "coordinates": [[0, 0], [0, 1], [1, 1], [0, 0]]}}
    assert {k: fetched[k] for k in body} == expected
    assert fetched["b"] is False  # booleans come back as JSON booleans, not 0/1
    # A find decodes its page by column position, a get by name: both answer the object the same.
    await store.create("Item", {"n": 2**53 - 1, "b": True, "ACL": {"*": {"read": True}}}, master)
    found = (await store.query("Item", QueryOptions(order=("n",)), master)).results
    assert found[0] == fetched
    assert found[1] == await store.fetch("Item", found[1]["objectId"], master)
    assert found[1]["b"] is True
    assert found[1]["ACL"] == {"*": {"read": True}}


async def test_numbers_read_back_as_written_up_to_the_exact_integer_range(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    """Numbers are doubles: integral ones below 2**53 read as integers, others as floats of the same value
    (decode's inlined fast path and from_sql agree)."""
    values = [0, -7, 3.0, 2.5, -0.5, 2**53 - 1, float(2**53), 1e300, 2**62]
    created = [await store.create("Num", {"n": value}, master) for value in values]
    for value, made in zip(values, created, strict=True):
        fetched = (await store.fetch("Num", made.object_id, master))["n"]
        assert fetched == value
        integral = float(value).is_integer() and abs(value) < 2**53
        assert isinstance(fetched, int) is integral, value


async def test_nulls_are_not_stored_and_do_not_create_columns(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    created = await store.create("Item", {"a": None, "b": 1}, master)
    assert "a" not in await store.fetch("Item", created.object_id, master)
    assert "a" not in store.schemas()["Item"].fields


async def test_a_later_write_of_another_type_is_code_111(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    await store.create("Item", {"n": 1}, master)
    with pytest.raises(IncorrectTypeError) as raised:
        await store.create("Item", {"n": "one"}, master)
    assert raised.value.parse_code == 111


async def test_a_plain_value_for_a_pointer_column_is_code_111_and_leaves_the_table_as_it_was(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    pointer = {"__type": "Pointer", "className": "Owner", "objectId": "o1"}
    await store.create("Item", {"owner": pointer}, master)
    with pytest.raises(IncorrectTypeError) as raised:
        await store.create("Item", {"extra": 1, "owner": "o1"}, master)
    assert raised.value.parse_code == 111
    assert await store.count("Item", {}, master) == 1
    assert "extra" not in store.schemas()["Item"].fields  # the failed write's new column was rolled back


async def test_client_object_ids_are_validated_and_unique(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    created = await store.create("Item", {"objectId": "my-id_1"}, master)
    assert created.object_id == "my-id_1"
    with pytest.raises(DuplicateObjectIdError) as raised:
        await store.create("Item", {"objectId": "my-id_1"}, master)
    assert raised.value.http_status == 409
    with pytest.raises(InvalidKeyNameError):
        await store.create("Item", {"objectId": "bad id!"}, master)


async def test_generated_ids_are_uuid4(store: SqliteRecordStore, master: CallerContext) -> None:
    from sidecar.store import BatchMethod, BatchOp

    results = await store.batch([BatchOp(BatchMethod.CREATE, "Item") for _ in range(200)], master)
    object_ids = {result.success["objectId"] for result in results if result.success}
    assert len(object_ids) == 200
    for object_id in object_ids:
        parsed = uuid.UUID(object_id)
        assert str(parsed) == object_id
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


@pytest.mark.parametrize("object_id", ["missing", "null", "undefined"])
async def test_missing_objects_are_101(
    store: SqliteRecordStore, master: CallerContext, object_id: str
) -> None:
    await store.create("Item", {}, master)
    for call in (
        store.fetch("Item", object_id, master),
        store.save("Item", object_id, {"a": 1}, master),
        store.delete("Item", object_id, master),
    ):
        with pytest.raises(ObjectNotFoundError) as raised:
            await call
        assert raised.value.parse_code == 101
        assert raised.value.http_status == 404


async def test_second_delete_is_101(store: SqliteRecordStore, master: CallerContext) -> None:
    created = await store.create("Item", {}, master)
    await store.delete("Item", created.object_id, master)
    with pytest.raises(ObjectNotFoundError):
        await store.delete("Item", created.object_id, master)


async def test_update_echoes_operator_results_but_not_plain_sets(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    created = await store.create("Item", {"hits": 40, "tags": ["a"]}, master)
    saved = await store.save(
        "Item",
        created.object_id,
        {
            "hits": {"__op": "Increment", "amount": 2},
            "tags": {"__op": "Add", "objects": ["b", "a"]},
            "name": "x",
        },
        master,
    )
    assert saved.to_wire() == {"hits": 42, "tags": ["a", "b", "a"], "updatedAt": saved.updated_at}


async def test_array_operators_are_applied_never_stored(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    created = await store.create("Item", {"tags": ["a", "b"], "gone": 1}, master)
    oid = created.object_id
    await store.save("Item", oid, {"tags": {"__op": "AddUnique", "objects": ["b", "c", "c"]}}, master)
    assert (await store.fetch("Item", oid, master))["tags"] == ["a", "b", "c"]
    await store.save("Item", oid, {"tags": {"__op": "Remove", "objects": ["a", "z"]}}, master)
    await store.save("Item", oid, {"gone": {"__op": "Delete"}}, master)
    fetched = await store.fetch("Item", oid, master)
    assert fetched["tags"] == ["b", "c"]
    assert "gone" not in fetched


async def test_add_unique_compares_pointers_by_class_and_id(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    created = await store.create("Item", {"refs": [POINTER]}, master)
    included = {"__type": "Object", "className": "Team", "objectId": "t1", "name": "x"}
    saved = await store.save(
        "Item", created.object_id, {"refs": {"__op": "AddUnique", "objects": [included]}}, master
    )
    assert saved.echoed["refs"] == [POINTER]


async def test_operators_on_create_are_flattened(store: SqliteRecordStore, master: CallerContext) -> None:
    created = await store.create(
        "Item",
        {
            "n": {"__op": "Increment", "amount": 3},
            "a": {"__op": "AddUnique", "objects": [1, 1]},
            "r": {"__op": "Remove", "objects": [1]},
            "d": {"__op": "Delete"},
        },
        master,
    )
    fetched = await store.fetch("Item", created.object_id, master)
    assert (fetched["n"], fetched["a"], fetched["r"], "d" in fetched) == (3, [1], [], False)


async def test_unknown_operator_is_refused(store: SqliteRecordStore, master: CallerContext) -> None:
    created = await store.create("Item", {}, master)
    with pytest.raises(CommandUnavailableError, match="Frobnicate"):
        await store.save("Item", created.object_id, {"x": {"__op": "Frobnicate"}}, master)


async def test_increment_on_a_string_is_111(store: SqliteRecordStore, master: CallerContext) -> None:
    created = await store.create("Item", {"s": "x"}, master)
    with pytest.raises(IncorrectTypeError):
        await store.increment("Item", created.object_id, "s", 1, master)


async def test_increment_counts_a_missing_field_as_zero(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    created = await store.create("Item", {}, master)
    saved = await store.increment("Item", created.object_id, "n", -1.5, master)
    assert saved.echoed == {"n": -1.5}


async def test_dot_keys_update_inside_objects(store: SqliteRecordStore, master: CallerContext) -> None:
    created = await store.create("Item", {"meta": {"x": 1, "y": 2}}, master)
    await store.save(
        "Item", created.object_id, {"meta.x": 5, "meta.y": {"__op": "Delete"}, "meta.z.w": 1}, master
    )
    assert (await store.fetch("Item", created.object_id, master))["meta"] == {"x": 5, "z": {"w": 1}}


async def test_update_never_touches_created_at_or_object_id(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    created = await store.create("Item", {}, master)
    await store.save(
        "Item", created.object_id, {"createdAt": "2000-01-01T00:00:00.000Z", "objectId": "x"}, master
    )
    fetched = await store.fetch("Item", created.object_id, master)
    assert fetched["createdAt"] == created.created_at
    assert fetched["objectId"] == created.object_id


async def test_save_expectations_are_checked_atomically(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    created = await store.create("Item", {"state": "open"}, master)
    await store.save("Item", created.object_id, {"state": "closed"}, master, expect={"state": "open"})
    with pytest.raises(PreconditionFailedError):
        await store.save("Item", created.object_id, {"state": "again"}, master, expect={"state": "open"})
    assert (await store.fetch("Item", created.object_id, master))["state"] == "closed"


async def test_array_equality_matches_an_element(store: SqliteRecordStore, master: CallerContext) -> None:
    hit = await store.create("Item", {"tags": ["x", "y"]}, master)
    await store.create("Item", {"tags": ["z"]}, master)
    assert await ids(store, "Item", {"tags": "x"}) == [hit.object_id]
    assert await ids(store, "Item", {"tags": {"$eq": "x"}}) == [hit.object_id]
    assert await ids(store, "Item", {"tags": ["x", "y"]}) == [hit.object_id]


async def test_pointer_and_date_values_are_values_not_operators(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    hit = await store.create("Item", {"team": POINTER, "when": DATE, "refs": [POINTER]}, master)
    await store.create("Item", {"team": {**POINTER, "objectId": "t2"}}, master)
    assert await ids(store, "Item", {"team": POINTER}) == [hit.object_id]
    assert await ids(store, "Item", {"when": DATE}) == [hit.object_id]
    assert await ids(store, "Item", {"refs": POINTER}) == [hit.object_id]
    assert await ids(
        store, "Item", {"when": {"$gte": {"__type": "Date", "iso": "2024-05-06T07:08:09.123+00:00"}}}
    ) == [hit.object_id]


async def test_empty_in_matches_nothing_and_empty_nin_everything(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    a = await store.create("Item", {"n": 1}, master)
    b = await store.create("Item", {}, master)
    assert await ids(store, "Item", {"n": {"$in": []}}) == []
    assert sorted(await ids(store, "Item", {"n": {"$nin": []}})) == sorted([a.object_id, b.object_id])
    assert await ids(store, "Item", {"n": {"$eq": None}}) == [b.object_id]


async def test_a_missing_column_behaves_as_null(store: SqliteRecordStore, master: CallerContext) -> None:
    only = await store.create("Item", {"n": 1}, master)
    assert await ids(store, "Item", {"nope": 1}) == []
    assert await ids(store, "Item", {"nope": {"$gt": 0}}) == []
    assert await ids(store, "Item", {"nope": {"$exists": False}}) == [only.object_id]
    assert await ids(store, "Item", {"nope": {"$exists": True}}) == []
    assert await ids(store, "Item", {"nope": None}) == [only.object_id]
    assert await ids(store, "Item", {}, order=("nope", "-n")) == [only.object_id]
    assert await ids(store, "Nowhere", {"a": 1}) == []


async def test_booleans_never_match_numbers(store: SqliteRecordStore, master: CallerContext) -> None:
    await store.create("Item", {"n": 1}, master)
    flag = await store.create("Item", {"flag": True}, master)
    assert await ids(store, "Item", {"n": True}) == []
    assert await ids(store, "Item", {"flag": True}) == [flag.object_id]


async def test_order_limit_skip_count_and_keys(store: SqliteRecordStore, master: CallerContext) -> None:
    for n in range(5):
        await store.create("Item", {"n": n % 3, "name": f"item{n}", "secret": "s"}, master)
    result = await store.query(
        "Item", QueryOptions(order=("-n", "name"), limit=2, skip=1, count=True, keys=("name",)), master
    )
    assert [obj["name"] for obj in result.results] == ["item1", "item4"]
    assert result.count == 5
    assert set(result.results[0]) == {"objectId", "createdAt", "updatedAt", "name"}
    excluded = await store.query("Item", QueryOptions(exclude_keys=("secret", "objectId"), limit=1), master)
    assert "secret" not in excluded.results[0]
    assert "objectId" in excluded.results[0]
    assert (await store.query("Item", QueryOptions(limit=0, count=True), master)).to_wire() == {
        "results": [],
        "count": 5,
    }


async def test_default_limit_is_100(store: SqliteRecordStore, master: CallerContext) -> None:
    from sidecar.store import BatchMethod, BatchOp

    await store.batch([BatchOp(BatchMethod.CREATE, "Item", {"n": i}) for i in range(120)], master)
    assert len((await store.query("Item", QueryOptions(), master)).results) == 100


async def test_include_expands_pointers_along_dot_paths(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    org = await store.create("Org", {"name": "acme"}, master)
    team = await store.create(
        "Team",
        {"name": "t", "org": {"__type": "Pointer", "className": "Org", "objectId": org.object_id}},
        master,
    )
    pointer = {"__type": "Pointer", "className": "Team", "objectId": team.object_id}
    item = await store.create(
        "Item", {"team": pointer, "teams": [pointer], "dangling": {**pointer, "objectId": "x"}}, master
    )
    fetched = await store.fetch(
        "Item", item.object_id, master, FetchOptions(include=("team.org", "teams", "dangling"))
    )
    assert fetched["team"]["__type"] == "Object"
    assert fetched["team"]["className"] == "Team"
    assert fetched["team"]["org"]["name"] == "acme"
    assert fetched["teams"][0]["name"] == "t"
    assert fetched["dangling"] == {**pointer, "objectId": "x"}


async def test_relations_add_remove_and_query(store: SqliteRecordStore, master: CallerContext) -> None:
    users = [await store.create("Member", {"name": n}, master) for n in ("a", "b", "c")]
    group = await store.create("Group", {}, master)
    pointers = [{"__type": "Pointer", "className": "Member", "objectId": u.object_id} for u in users]
    saved = await store.add_relation("Group", group.object_id, "members", pointers[:2], master)
    assert saved.to_wire() == {"updatedAt": saved.updated_at}
    await store.remove_relation("Group", group.object_id, "members", [pointers[0], pointers[2]], master)
    owner = {"__type": "Pointer", "className": "Group", "objectId": group.object_id}
    assert await ids(store, "Member", {"$relatedTo": {"object": owner, "key": "members"}}) == [
        users[1].object_id
    ]
    assert await ids(store, "Group", {"members": pointers[1]}) == [group.object_id]
    assert await ids(store, "Group", {"members": pointers[0]}) == []
    fetched = await store.fetch("Group", group.object_id, master)
    assert fetched["members"] == {"__type": "Relation", "className": "Member"}


async def test_in_query_and_select(store: SqliteRecordStore, master: CallerContext) -> None:
    red = await store.create("Team", {"color": "red", "code": "R"}, master)
    await store.create("Team", {"color": "blue", "code": "B"}, master)
    mine = await store.create(
        "Item",
        {"team": {"__type": "Pointer", "className": "Team", "objectId": red.object_id}, "code": "R"},
        master,
    )
    other = await store.create("Item", {"code": "B"}, master)
    sub = {"className": "Team", "where": {"color": "red"}}
    assert await ids(store, "Item", {"team": {"$inQuery": sub}}) == [mine.object_id]
    assert await ids(store, "Item", {"team": {"$notInQuery": sub}}) == [other.object_id]
    assert await ids(store, "Item", {"code": {"$select": {"query": sub, "key": "code"}}}) == [mine.object_id]
    assert await ids(store, "Item", {"code": {"$dontSelect": {"query": sub, "key": "code"}}}) == [
        other.object_id
    ]


async def test_regex_with_quoted_spans_and_options(store: SqliteRecordStore, master: CallerContext) -> None:
    hit = await store.create("Item", {"s": "Mr.Dot"}, master)
    await store.create("Item", {"s": "MrXDot"}, master)
    assert await ids(store, "Item", {"s": {"$regex": r"\Qr.D\E"}}) == [hit.object_id]
    assert await ids(store, "Item", {"s": {"$regex": r"^\Qmr.\E", "$options": "i"}}) == [hit.object_id]


async def test_text_search_matches_every_word(store: SqliteRecordStore, master: CallerContext) -> None:
    hit = await store.create("Item", {"s": "The quick brown fox"}, master)
    await store.create("Item", {"s": "quick thinking"}, master)
    where = {"s": {"$text": {"$search": {"$term": "Quick FOX"}}}}
    assert await ids(store, "Item", where) == [hit.object_id]


async def test_geo_queries(store: SqliteRecordStore, master: CallerContext) -> None:
    def point(lat: float, lng: float) -> dict[str, Any]:
        return {"__type": "GeoPoint", "latitude": lat, "longitude": lng}

    paris = await store.create("Place", {"at": point(48.85, 2.35)}, master)
    berlin = await store.create("Place", {"at": point(52.52, 13.40)}, master)
    near = {"at": {"$nearSphere": point(48.0, 2.0), "$maxDistanceInKilometers": 200}}
    assert await ids(store, "Place", near) == [paris.object_id]
    ordered = await ids(store, "Place", {"at": {"$nearSphere": point(53.0, 13.0)}})
    assert ordered == [berlin.object_id, paris.object_id]
    box = {"at": {"$within": {"$box": [point(50, 10), point(55, 15)]}}}
    assert await ids(store, "Place", box) == [berlin.object_id]
    polygon = {"at": {"$geoWithin": {"$polygon": [point(47, 1), point(50, 1), point(50, 4), point(47, 4)]}}}
    assert await ids(store, "Place", polygon) == [paris.object_id]
    sphere = {"at": {"$geoWithin": {"$centerSphere": [[13.0, 52.0], 0.02]}}}
    assert await ids(store, "Place", sphere) == [berlin.object_id]


async def test_relative_time(store: SqliteRecordStore, master: CallerContext) -> None:
    old = await store.create("Item", {"when": {"__type": "Date", "iso": "2001-01-01T00:00:00.000Z"}}, master)
    await store.create("Item", {"when": {"__type": "Date", "iso": "2999-01-01T00:00:00.000Z"}}, master)
    assert await ids(store, "Item", {"when": {"$lt": {"$relativeTime": "3 days ago"}}}) == [old.object_id]


async def test_distinct_and_aggregate(store: SqliteRecordStore, master: CallerContext) -> None:
    for n, tag in ((100, "a"), (300, "b"), (100, "a")):
        await store.create("Sale", {"amount": n, "tag": tag}, master)
    assert sorted(await store.distinct("Sale", "tag", {}, master)) == ["a", "b"]
    assert sorted(await store.distinct("Sale", "amount", {"tag": "a"}, master)) == [100]
    grouped = await store.aggregate(
        "Sale",
        [
            {"$match": {"amount": {"$gte": 100}}},
            {
                "$group": {
                    "_id": None,
                    "sum": {"$sum": "$amount"},
                    "max": {"$max": "$amount"},
                    "tags": {"$addToSet": "$tag"},
                }
            },
        ],
        master,
    )
    assert grouped[0]["objectId"] is None
    assert grouped[0]["sum"] == 500
    assert grouped[0]["max"] == 300
    assert sorted(grouped[0]["tags"]) == ["a", "b"]
    by_tag = await store.aggregate(
        "Sale", [{"$group": {"_id": "$tag", "n": {"$sum": 1}}}, {"$sort": {"n": -1}}], master
    )
    assert by_tag == [{"objectId": "a", "n": 2}, {"objectId": "b", "n": 1}]


async def test_ephemeral_mode_must_be_asked_for() -> None:
    with pytest.raises(RequestFailedError):
        await SqliteRecordStore.open(":memory:")
    memory = await SqliteRecordStore.open(None, ephemeral=True)
    try:
        created = await memory.create("Item", {"n": 1}, CallerContext.master())
        assert (await memory.fetch("Item", created.object_id, CallerContext.master()))["n"] == 1
    finally:
        await memory.close()


async def test_data_survives_reopening(tmp_path: Any, master: CallerContext) -> None:
    first = await SqliteRecordStore.open(tmp_path / "d.db")
    created = await first.create("Item", {"n": 1}, master)
    await first.close()
    second = await SqliteRecordStore.open(tmp_path / "d.db")
    try:
        assert (await second.fetch("Item", created.object_id, master))["n"] == 1
        assert second.schemas()["Item"].fields["n"].type == "Number"
    finally:
        await second.close()


@pytest.mark.sqlite_only("breaks the SQLite file underneath the store")
async def test_engine_failures_surface_as_storage_errors(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    import sqlite3

    from sidecar.errors import StorageError

    created = await store.create("Item", {"n": 1}, master)
    outside = sqlite3.connect(store.path)
    outside.execute('DROP TABLE "Item"')  # the table vanishes behind the store's back
    outside.commit()
    outside.close()
    with pytest.raises(StorageError) as raised:
        await store.fetch("Item", created.object_id, master)
    assert raised.value.http_status == 500
    with pytest.raises(StorageError):
        await store.save("Item", created.object_id, {"n": 2}, master)


async def test_polygon_contains_point(store: SqliteRecordStore, master: CallerContext) -> None:
    square = {"__type": "Polygon", "coordinates": [[0, 0], [0, 10], [10, 10], [10, 0]]}
    area = await store.create("Area", {"shape": square}, master)
    inside = {"$geoIntersects": {"$point": {"__type": "GeoPoint", "latitude": 5, "longitude": 5}}}
    outside = {"$geoIntersects": {"$point": {"__type": "GeoPoint", "latitude": 15, "longitude": 5}}}
    assert await ids(store, "Area", {"shape": inside}) == [area.object_id]
    assert await ids(store, "Area", {"shape": outside}) == []


async def test_relation_batch_operator_adds_and_removes_in_one_save(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    a = await store.create("Member", {}, master)
    b = await store.create("Member", {}, master)
    pa, pb = ({"__type": "Pointer", "className": "Member", "objectId": m.object_id} for m in (a, b))
    group = await store.create("Group", {"members": {"__op": "AddRelation", "objects": [pa]}}, master)
    await store.save(
        "Group",
        group.object_id,
        {
            "members": {
                "__op": "Batch",
                "ops": [
                    {"__op": "AddRelation", "objects": [pb]},
                    {"__op": "RemoveRelation", "objects": [pa]},
                ],
            }
        },
        master,
    )
    owner = {"__type": "Pointer", "className": "Group", "objectId": group.object_id}
    assert await ids(store, "Member", {"$relatedTo": {"object": owner, "key": "members"}}) == [b.object_id]


async def test_dotted_keys_include_and_restrict_the_pointee(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    team = await store.create("Team", {"name": "t", "budget": 5}, master)
    pointer = {"__type": "Pointer", "className": "Team", "objectId": team.object_id}
    await store.create("Item", {"team": pointer, "other": 1}, master)
    found = await store.query("Item", QueryOptions(keys=("team.name",)), master)
    item = found.results[0]
    assert "other" not in item
    assert item["team"]["name"] == "t"
    assert "budget" not in item["team"]
    assert item["team"]["objectId"] == team.object_id


async def test_long_reads_are_stopped_with_code_124(tmp_path: Any, master: CallerContext) -> None:
    from sidecar.errors import QueryTimeoutError
    from sidecar.store import BatchMethod, BatchOp

    store = await SqliteRecordStore.open(tmp_path / "slow.db", read_time_limit=0.001)
    try:
        rows = [BatchOp(BatchMethod.CREATE, "Item", {"s": f"text {i}"}) for i in range(20_000)]
        await store.batch(rows, master, transaction=True)
        with pytest.raises(QueryTimeoutError) as raised:  # a scan calling a Python function on every row
            await store.count("Item", {"s": {"$regex": "z"}}, master)
        assert raised.value.parse_code == 124
        assert (await store.query("Item", QueryOptions(limit=1), master)).results  # the reader still works
    finally:
        await store.close()


@pytest.mark.parametrize("ephemeral", [False, True])
async def test_a_catastrophically_backtracking_regex_is_stopped_with_124(
    tmp_path: Any, master: CallerContext, ephemeral: bool
) -> None:
    from sidecar.errors import QueryTimeoutError

    # On a file the read deadline stops the match; in memory (reads share the writer) a fixed 1 s does.
    path = None if ephemeral else tmp_path / "regex.db"
    store = await SqliteRecordStore.open(path, ephemeral=ephemeral, read_time_limit=0.5)
    try:
        await store.create("Item", {"s": "a" * 5_000 + "!"}, master)
        started = time.monotonic()
        with pytest.raises(QueryTimeoutError) as raised:
            await store.query("Item", QueryOptions(where={"s": {"$regex": "(a+)+$"}}), master)
        assert raised.value.parse_code == 124
        assert time.monotonic() - started < 5
        for _ in range(4):  # the threads that ran it serve the next queries
            assert (await store.query("Item", QueryOptions(where={"s": {"$regex": "^a+!$"}}), master)).results
    finally:
        await store.close()


async def test_text_matches_rank_by_score(store: SqliteRecordStore, master: CallerContext) -> None:
    once = await store.create("Item", {"s": "a fox"}, master)
    thrice = await store.create("Item", {"s": "fox fox fox"}, master)
    where = {"s": {"$text": {"$search": {"$term": "fox"}}}}
    assert await ids(store, "Item", where, order=("$score",)) == [thrice.object_id, once.object_id]


async def test_an_unpaired_surrogate_is_refused_with_107_and_stores_nothing(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    for body in ({"name": "a\ud800"}, {"nested": {"k": "\udc00"}}):
        with pytest.raises(InvalidJsonError) as raised:
            await store.create("Item", body, master)
        assert raised.value.parse_code == 107
    assert "Item" not in store.schemas() or await store.count("Item", {}, master) == 0
