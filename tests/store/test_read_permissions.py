"""Every read path applies the permissions of the class it reads (ISSUE-15 item 5, reproduction 6).

An ``include``d pointee, the subquery of ``$inQuery``/``$notInQuery``/``$select``/``$dontSelect``, the owner
of a ``$relatedTo``, an aggregate's ``$match``, a count and a distinct read their class on the same terms as
a plain find or get of it: the class-level permission (119 when it refuses), pointer permissions, the row
ACL and protectedFields. The master caller passes all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from sidecar.errors import ObjectNotFoundError, OperationForbiddenError
from sidecar.store import CallerContext, FetchOptions, QueryOptions, SqliteRecordStore

SIGNED_IN_ONLY = {"requiresAuthentication": True}
LOCKED_CLP: dict[str, Any] = {
    "find": SIGNED_IN_ONLY,
    "get": SIGNED_IN_ONLY,
    "count": SIGNED_IN_ONLY,
    "create": {},
    "update": {},
    "delete": {},
    "addField": {},
    "protectedFields": {"*": ["salary"]},
}
"""Signed-in users may read ``Secret``, nobody but master writes it, and ``salary`` is hidden."""


@dataclass(frozen=True)
class World:
    ann: CallerContext
    bob: CallerContext
    secret_id: str
    pub_id: str

    @property
    def secret(self) -> dict[str, str]:
        return {"__type": "Pointer", "className": "Secret", "objectId": self.secret_id}


async def signed_up(store: SqliteRecordStore, name: str) -> CallerContext:
    answer = await store.signup({"username": name, "password": "pw-" + name}, CallerContext.anonymous())
    return await store.caller_for_session(answer["sessionToken"])


@pytest.fixture
async def world(store: SqliteRecordStore, master: CallerContext) -> World:
    """``Secret`` (readable by signed-in users only) with one row, and public ``Pub`` pointing at it."""
    await store.create_class("Secret", {"classLevelPermissions": LOCKED_CLP})
    secret = await store.create("Secret", {"code": "hunter2", "salary": 90000}, master)
    pointer = {"__type": "Pointer", "className": "Secret", "objectId": secret.object_id}
    pub = await store.create("Pub", {"title": "hello", "ptr": pointer, "code": "hunter2"}, master)
    return World(
        await signed_up(store, "ann"), await signed_up(store, "bob"), secret.object_id, pub.object_id
    )


async def query(
    store: SqliteRecordStore, class_name: str, caller: CallerContext, **options: Any
) -> list[dict[str, Any]]:
    return (await store.query(class_name, QueryOptions(**options), caller)).results


def forbidden(action: str, class_name: str) -> str:
    return f"Permission denied for action {action} on class {class_name}."


# ---- include ------------------------------------------------------------------------------------------


async def test_include_of_a_class_the_caller_may_not_get_fails_with_119(
    store: SqliteRecordStore, world: World, anonymous: CallerContext
) -> None:
    with pytest.raises(OperationForbiddenError) as raised:
        await query(store, "Pub", anonymous, include=("ptr",))
    assert (raised.value.parse_code, raised.value.http_status) == (119, 403)
    assert raised.value.message == forbidden("get", "Secret")
    with pytest.raises(OperationForbiddenError):
        await store.fetch("Pub", world.pub_id, anonymous, FetchOptions(include=("ptr",)))
    with pytest.raises(OperationForbiddenError):  # a dotted key implies the include
        await query(store, "Pub", anonymous, keys=("ptr.code",))
    with pytest.raises(OperationForbiddenError):
        await query(store, "Pub", anonymous, include=("*",))


async def test_include_of_a_permitted_class_expands_for_users_and_master(
    store: SqliteRecordStore, world: World, master: CallerContext
) -> None:
    (as_ann,) = await query(store, "Pub", world.ann, include=("ptr",))
    assert as_ann["ptr"]["__type"] == "Object"
    assert as_ann["ptr"]["code"] == "hunter2"
    assert "salary" not in as_ann["ptr"]  # the pointee's protectedFields still apply
    (as_master,) = await query(store, "Pub", master, include=("ptr",))
    assert as_master["ptr"]["salary"] == 90000
    fetched = await store.fetch("Pub", world.pub_id, world.ann, FetchOptions(include=("ptr",)))
    assert fetched["ptr"]["code"] == "hunter2"


async def test_without_include_the_pointer_itself_is_no_secret(
    store: SqliteRecordStore, world: World, anonymous: CallerContext
) -> None:
    (row,) = await query(store, "Pub", anonymous)
    assert row["ptr"] == world.secret
    (row,) = await query(store, "Pub", anonymous, include=("title",))  # no pointer of Secret to expand
    assert row["ptr"] == world.secret


async def test_included_rows_the_caller_may_not_read_stay_pointers(
    store: SqliteRecordStore, world: World, master: CallerContext
) -> None:
    """The row ACL and the pointer permissions of the pointee class decide row by row."""
    await store.create_class(
        "Note",
        {
            "fields": {"owner": {"type": "Pointer", "targetClass": "_User"}},
            "classLevelPermissions": {"get": {}, "find": {}, "readUserFields": ["owner"]},
        },
    )
    me = {"__type": "Pointer", "className": "_User", "objectId": world.ann.user_id}
    private = await store.create("Note", {"owner": me, "ACL": {world.bob.user_id: {"read": True}}}, master)
    owned = await store.create("Note", {"owner": me, "text": "mine"}, master)
    note = {"__type": "Pointer", "className": "Note"}
    notes = [{**note, "objectId": private.object_id}, {**note, "objectId": owned.object_id}]
    await store.create("Shelf", {"notes": notes}, master)

    (as_ann,) = await query(store, "Shelf", world.ann, include=("notes",))
    assert as_ann["notes"][0] == notes[0]  # ann owns it, but its ACL names only bob
    assert as_ann["notes"][1]["text"] == "mine"
    (as_bob,) = await query(store, "Shelf", world.bob, include=("notes",))
    assert as_bob["notes"] == notes  # bob holds the ACL grant but owns neither note
    (as_master,) = await query(store, "Shelf", master, include=("notes",))
    assert [n["__type"] for n in as_master["notes"]] == ["Object", "Object"]


# ---- subqueries -----------------------------------------------------------------------------------------


SUBQUERIES: list[tuple[str, dict[str, Any]]] = [
    ("$inQuery", {"ptr": {"$inQuery": {"className": "Secret", "where": {"code": "hunter2"}}}}),
    ("$notInQuery", {"ptr": {"$notInQuery": {"className": "Secret", "where": {"code": "guess"}}}}),
    ("$select", {"code": {"$select": {"query": {"className": "Secret", "where": {}}, "key": "code"}}}),
    (
        "$dontSelect",
        {"code": {"$dontSelect": {"query": {"className": "Secret", "where": {}}, "key": "code"}}},
    ),
    ("nested", {"$or": [{"title": "x"}, {"ptr": {"$inQuery": {"className": "Secret", "where": {}}}}]}),
]


@pytest.mark.parametrize(("name", "where"), SUBQUERIES, ids=[name for name, _ in SUBQUERIES])
async def test_a_subquery_on_a_class_the_caller_may_not_find_fails_with_119(
    store: SqliteRecordStore, world: World, anonymous: CallerContext, name: str, where: dict[str, Any]
) -> None:
    with pytest.raises(OperationForbiddenError) as raised:
        await query(store, "Pub", anonymous, where=where)
    assert raised.value.message == forbidden("find", "Secret")
    with pytest.raises(OperationForbiddenError):
        await store.count("Pub", where, anonymous)


@pytest.mark.parametrize(("name", "where"), SUBQUERIES[:4], ids=[name for name, _ in SUBQUERIES[:4]])
async def test_the_same_subqueries_answer_for_a_user_and_for_master(
    store: SqliteRecordStore, world: World, master: CallerContext, name: str, where: dict[str, Any]
) -> None:
    expected = [] if name == "$dontSelect" else [world.pub_id]
    for caller in (world.ann, master):
        assert [row["objectId"] for row in await query(store, "Pub", caller, where=where)] == expected


async def test_a_subquery_sees_only_the_rows_the_caller_may_read(
    store: SqliteRecordStore, world: World, master: CallerContext
) -> None:
    hidden = await store.create(
        "Secret", {"code": "bob-only", "ACL": {world.bob.user_id: {"read": True}}}, master
    )
    await store.create("Pub", {"ptr": {**world.secret, "objectId": hidden.object_id}}, master)
    where = {"ptr": {"$inQuery": {"className": "Secret", "where": {"code": "bob-only"}}}}
    assert await query(store, "Pub", world.ann, where=where) == []
    assert len(await query(store, "Pub", world.bob, where=where)) == 1


async def test_select_cannot_read_a_protected_field_of_the_subquery_class(
    store: SqliteRecordStore, world: World, master: CallerContext
) -> None:
    await store.create("Guess", {"amount": 90000}, master)
    select = {"query": {"className": "Secret", "where": {}}, "key": "salary"}
    assert await query(store, "Guess", world.ann, where={"amount": {"$select": select}}) == []
    assert len(await query(store, "Guess", world.ann, where={"amount": {"$dontSelect": select}})) == 1
    assert len(await query(store, "Guess", master, where={"amount": {"$select": select}})) == 1


async def test_a_where_on_a_protected_field_fails_with_119_at_any_depth(
    store: SqliteRecordStore, world: World, master: CallerContext
) -> None:
    for where in (
        {"salary": {"$gt": 50000}},
        {"$or": [{"code": "x"}, {"salary": 90000}]},
        {"$and": [{"$nor": [{"salary.x": 1}]}]},
    ):
        with pytest.raises(OperationForbiddenError) as raised:
            await query(store, "Secret", world.ann, where=where)
        assert raised.value.message.startswith("This user is not allowed to query salary")
    inner = {"ptr": {"$inQuery": {"className": "Secret", "where": {"salary": 90000}}}}
    with pytest.raises(OperationForbiddenError):
        await query(store, "Pub", world.ann, where=inner)
    assert len(await query(store, "Secret", master, where={"salary": 90000})) == 1


async def test_an_order_on_a_protected_field_is_ignored(
    store: SqliteRecordStore, world: World, master: CallerContext
) -> None:
    await store.create("Secret", {"code": "z-low", "salary": 1}, master)
    by_salary = await query(store, "Secret", world.ann, order=("salary", "code"))
    assert [row["code"] for row in by_salary] == ["hunter2", "z-low"]  # by code only
    by_salary = await query(store, "Secret", master, order=("salary", "code"))
    assert [row["code"] for row in by_salary] == ["z-low", "hunter2"]


# ---- relations ------------------------------------------------------------------------------------------


async def test_related_to_reads_the_relation_only_of_an_owner_the_caller_may_get(
    store: SqliteRecordStore, world: World, anonymous: CallerContext, master: CallerContext
) -> None:
    member = await store.create("Member", {"name": "m"}, master)
    target = [{"__type": "Pointer", "className": "Member", "objectId": member.object_id}]
    await store.update_class("Secret", {"fields": {"members": {"type": "Relation", "targetClass": "Member"}}})
    await store.add_relation("Secret", world.secret_id, "members", target, master)
    hidden = await store.create("Secret", {"ACL": {world.bob.user_id: {"read": True}}}, master)
    await store.add_relation("Secret", hidden.object_id, "members", target, master)

    def related(owner_id: str) -> dict[str, Any]:
        return {"$relatedTo": {"object": {**world.secret, "objectId": owner_id}, "key": "members"}}

    with pytest.raises(OperationForbiddenError):
        await query(store, "Member", anonymous, where=related(world.secret_id))
    assert len(await query(store, "Member", world.ann, where=related(world.secret_id))) == 1
    assert await query(store, "Member", world.ann, where=related(hidden.object_id)) == []
    assert len(await query(store, "Member", world.bob, where=related(hidden.object_id))) == 1
    assert len(await query(store, "Member", master, where=related(hidden.object_id))) == 1


# ---- aggregate, count, distinct -------------------------------------------------------------------------


async def test_aggregate_applies_the_permissions_of_every_class_it_reads(
    store: SqliteRecordStore, world: World, anonymous: CallerContext, master: CallerContext
) -> None:
    with pytest.raises(OperationForbiddenError):
        await store.aggregate("Secret", [{"$group": {"_id": None, "n": {"$sum": 1}}}], anonymous)
    through: list[dict[str, Any]] = [
        {"$match": {"ptr": {"$inQuery": {"className": "Secret", "where": {}}}}},
        {"$count": "n"},
    ]
    with pytest.raises(OperationForbiddenError):
        await store.aggregate("Pub", through, anonymous)
    assert await store.aggregate("Pub", through, world.ann) == [{"n": 1}]
    on_protected: list[dict[str, Any]] = [{"$match": {"salary": {"$gt": 0}}}, {"$count": "n"}]
    with pytest.raises(OperationForbiddenError):
        await store.aggregate("Secret", on_protected, world.ann)
    assert await store.aggregate("Secret", on_protected, master) == [{"n": 1}]
    grouped = await store.aggregate("Secret", [{"$group": {"_id": "$salary"}}], world.ann)
    assert grouped == [{"objectId": None}]


async def test_a_query_with_count_needs_the_count_permission(
    store: SqliteRecordStore, world: World, master: CallerContext
) -> None:
    await store.update_class("Secret", {"classLevelPermissions": {**LOCKED_CLP, "count": {}}})
    with pytest.raises(OperationForbiddenError) as raised:
        await store.query("Secret", QueryOptions(count=True), world.ann)
    assert raised.value.message == forbidden("count", "Secret")
    assert len(await query(store, "Secret", world.ann)) == 1
    assert (await store.query("Secret", QueryOptions(count=True), master)).count == 1


async def test_a_bare_count_needs_only_the_count_permission(store: SqliteRecordStore, world: World) -> None:
    """The SDK's ``count()`` sends ``limit=0&count=1``; Parse answers it from the count permission."""
    await store.update_class("Secret", {"classLevelPermissions": {**LOCKED_CLP, "find": {}}})
    with pytest.raises(OperationForbiddenError):
        await query(store, "Secret", world.ann)
    answer = await store.query("Secret", QueryOptions(count=True, limit=0), world.ann)
    assert (answer.results, answer.count) == ([], 1)


async def test_distinct_never_returns_protected_values(
    store: SqliteRecordStore, world: World, anonymous: CallerContext, master: CallerContext
) -> None:
    assert await store.distinct("Secret", "salary", {}, world.ann) == []
    assert await store.distinct("Secret", "salary", {}, master) == [90000]
    with pytest.raises(OperationForbiddenError):
        await store.distinct("Secret", "code", {}, anonymous)
    with pytest.raises(OperationForbiddenError):
        await store.distinct(
            "Pub", "code", {"ptr": {"$inQuery": {"className": "Secret", "where": {}}}}, anonymous
        )


# ---- pointer permissions --------------------------------------------------------------------------------


async def test_pointer_permissions_narrow_reads_to_the_rows_that_point_at_the_caller(
    store: SqliteRecordStore, world: World, anonymous: CallerContext, master: CallerContext
) -> None:
    await store.create_class(
        "Ticket",
        {
            "fields": {
                "owner": {"type": "Pointer", "targetClass": "_User"},
                "watchers": {"type": "Array"},
            },
            "classLevelPermissions": {
                "find": {"pointerFields": ["owner", "watchers"]},
                "get": {"pointerFields": ["owner"]},
                "count": {"requiresAuthentication": True, "pointerFields": ["owner"]},
            },
        },
    )

    def user(caller: CallerContext) -> dict[str, Any]:
        return {"__type": "Pointer", "className": "_User", "objectId": caller.user_id}

    anns = await store.create("Ticket", {"owner": user(world.ann), "watchers": [user(world.bob)]}, master)
    await store.create("Ticket", {"owner": user(world.bob)}, master)
    assert len(await query(store, "Ticket", world.ann)) == 1
    assert len(await query(store, "Ticket", world.bob)) == 2  # owner of one, watcher of the other
    assert await query(store, "Ticket", anonymous) == []
    assert len(await query(store, "Ticket", master)) == 2
    assert (await store.fetch("Ticket", anns.object_id, world.ann))["objectId"] == anns.object_id
    with pytest.raises(ObjectNotFoundError):
        await store.fetch("Ticket", anns.object_id, world.bob)  # get names only the owner
    assert await store.count("Ticket", {}, world.bob) == 1
    with pytest.raises(OperationForbiddenError):
        await store.count("Ticket", {}, anonymous)


async def test_the_master_caller_passes_every_read_permission(
    store: SqliteRecordStore, world: World, master: CallerContext
) -> None:
    await store.update_class(
        "Secret", {"classLevelPermissions": {op: {} for op in ("find", "get", "count", "create")}}
    )
    (row,) = await query(store, "Pub", master, include=("ptr",), where=SUBQUERIES[0][1], count=True)
    assert row["ptr"]["code"] == "hunter2"
    with pytest.raises(OperationForbiddenError):
        await query(store, "Pub", world.ann, include=("ptr",))


# ---- change records (realtime) --------------------------------------------------------------------------


async def test_a_change_record_is_shown_only_as_a_find_would_show_it(
    store: SqliteRecordStore, world: World, anonymous: CallerContext, master: CallerContext
) -> None:
    record = await store.fetch("Secret", world.secret_id, master)
    assert store.visible_record("Secret", record, anonymous) is None
    assert store.visible_record("Secret", record, world.ann) == {
        k: v for k, v in record.items() if k != "salary"
    }
    assert store.visible_record("Secret", record, master) is record
    assert not store.matches("Secret", {}, record, anonymous)
    assert store.matches("Secret", {"code": "hunter2"}, record, world.ann)

    await store.create_class("Ticket", {"classLevelPermissions": {"find": {"pointerFields": ["owner"]}}})
    owner = {"__type": "Pointer", "className": "_User", "objectId": world.ann.user_id}
    ticket = {"objectId": "t1", "owner": owner, "ACL": {"*": {"read": True}}}
    assert store.visible_record("Ticket", ticket, world.ann) is ticket
    assert store.visible_record("Ticket", ticket, world.bob) is None
    hidden = {**ticket, "ACL": {world.bob.user_id: {"read": True}}}
    assert store.visible_record("Ticket", hidden, world.ann) is None
