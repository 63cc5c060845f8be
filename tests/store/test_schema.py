"""The schema manager: inferred schemas, the ``/schemas`` shapes, explicit changes and exports."""

from __future__ import annotations

import json
import sqlite3

import pytest

from sidecar.errors import (
    ExportRefusedError,
    ImmutableFieldError,
    IncorrectTypeError,
    InvalidClassNameError,
    InvalidSchemaOperationError,
    MissingRequiredFieldError,
)
from sidecar.store import CallerContext, QueryOptions, SqliteRecordStore


async def test_first_write_infers_and_records_types(store: SqliteRecordStore, master: CallerContext) -> None:
    await store.create(
        "Item",
        {
            "s": "x",
            "n": 1,
            "b": True,
            "d": {"__type": "Date", "iso": "2024-01-01T00:00:00Z"},
            "o": {},
            "a": [],
            "p": {"__type": "Pointer", "className": "Team", "objectId": "t"},
            "r": {
                "__op": "AddRelation",
                "objects": [{"__type": "Pointer", "className": "Team", "objectId": "t"}],
            },
            "i": {"__op": "Increment", "amount": 1},
        },
        master,
    )
    fields = (await store.get_schema("Item"))["fields"]
    assert {k: v["type"] for k, v in fields.items()} == {
        "objectId": "String",
        "createdAt": "Date",
        "updatedAt": "Date",
        "ACL": "ACL",
        "s": "String",
        "n": "Number",
        "b": "Boolean",
        "d": "Date",
        "o": "Object",
        "a": "Array",
        "p": "Pointer",
        "r": "Relation",
        "i": "Number",
    }
    assert fields["p"]["targetClass"] == "Team"
    assert fields["r"]["targetClass"] == "Team"


async def test_schema_shape_and_missing_class_is_103(store: SqliteRecordStore) -> None:
    with pytest.raises(InvalidClassNameError, match=r"Class Nope does not exist\."):
        await store.get_schema("Nope")
    schemas = await store.list_schemas()
    names = [s["className"] for s in schemas]
    assert {"_User", "_Session", "_Role"} <= set(names)  # pre-created system classes
    user = next(s for s in schemas if s["className"] == "_User")
    assert user["classLevelPermissions"]["find"] == {"*": True}
    assert user["fields"]["password"] == {"type": "String"}


async def test_create_update_and_delete_classes(store: SqliteRecordStore, master: CallerContext) -> None:
    created = await store.create_class(
        "Book",
        {"fields": {"title": {"type": "String"}, "author": {"type": "Pointer", "targetClass": "_User"}}},
    )
    assert created["fields"]["author"] == {"type": "Pointer", "targetClass": "_User"}
    with pytest.raises(InvalidClassNameError, match="already exists"):
        await store.create_class("Book", {})
    with pytest.raises(MissingRequiredFieldError):
        await store.create_class("Bad", {"fields": {"p": {"type": "Pointer"}}})
    with pytest.raises(IncorrectTypeError, match="invalid field type"):
        await store.update_class("Book", {"fields": {"x": {"type": "Nope"}}})
    with pytest.raises(ImmutableFieldError):
        await store.update_class("Book", {"fields": {"createdAt": {"type": "Date"}}})
    updated = await store.update_class(
        "Book", {"fields": {"pages": {"type": "Number"}, "title": {"__op": "Delete"}}}
    )
    assert "pages" in updated["fields"]
    same = await store.update_class("Book", {"fields": {"pages": {"type": "Number"}}})
    assert same["fields"]["pages"] == {"type": "Number"}
    with pytest.raises(InvalidSchemaOperationError, match="exists"):
        await store.update_class("Book", {"fields": {"pages": {"type": "String"}}})
    assert "title" not in updated["fields"]
    with pytest.raises(InvalidSchemaOperationError):
        await store.update_class("Book", {"fields": {"title": {"__op": "Delete"}}})
    await store.create("Book", {"pages": 3}, master)
    with pytest.raises(InvalidSchemaOperationError, match="not empty"):
        await store.delete_class("Book")
    await store.create_class("Empty", {})
    await store.delete_class("Empty")
    assert "Empty" not in store.schemas()


async def test_rename_field_keeps_data(store: SqliteRecordStore, master: CallerContext) -> None:
    created = await store.create("Item", {"old": 5}, master)
    await store.rename_field("Item", "old", "new")
    fetched = await store.fetch("Item", created.object_id, master)
    assert fetched["new"] == 5
    assert "old" not in fetched


async def test_type_change_converts_values(store: SqliteRecordStore, master: CallerContext) -> None:
    good = await store.create("Item", {"code": "42"}, master)
    bad = await store.create("Item", {"code": "x"}, master)
    result = await store.change_field_type("Item", "code", "Number")
    assert result["conversion"] == {"changed": True, "from": "String", "convertedValues": 1, "lost": 1}
    assert result["fields"]["code"] == {"type": "Number"}
    assert (await store.fetch("Item", good.object_id, master))["code"] == 42
    assert "code" not in await store.fetch("Item", bad.object_id, master)
    found = await store.query("Item", QueryOptions(where={"code": {"$gt": 40}}), master)
    assert [o["objectId"] for o in found.results] == [good.object_id]


@pytest.mark.sqlite_only("builds an index in the SQLite file underneath the store")
async def test_type_change_converts_values_and_rebuilds_indexes(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    good = await store.create("Item", {"code": "42"}, master)
    bad = await store.create("Item", {"code": "x"}, master)
    connection = sqlite3.connect(store.path)
    connection.execute('CREATE UNIQUE INDEX "uniq_code" ON "Item" ("code")')
    connection.commit()
    connection.close()
    result = await store.change_field_type("Item", "code", "Number")
    assert result["conversion"] == {"changed": True, "from": "String", "convertedValues": 1, "lost": 1}
    assert (await store.fetch("Item", good.object_id, master))["code"] == 42
    assert "code" not in await store.fetch("Item", bad.object_id, master)
    found = await store.query("Item", QueryOptions(where={"code": {"$gt": 40}}), master)
    assert [o["objectId"] for o in found.results] == [good.object_id]


@pytest.mark.sqlite_only("exports are not on the PostgreSQL store yet")
async def test_json_export_lists_every_class(store: SqliteRecordStore, master: CallerContext) -> None:
    await store.create("Item", {"n": 1}, master)
    exported = json.loads(await store.export_schema("json"))
    assert "Item" in [c["className"] for c in exported["classes"]]
    data = json.loads(await store.export_data("json"))
    assert data["classes"]["Item"]["objects"][0]["n"] == 1


@pytest.mark.sqlite_only("exports are not on the PostgreSQL store yet")
async def test_postgres_export_uses_parse_server_layout(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    await store.create(
        "Item", {"n": 1, "when": {"__type": "Date", "iso": "2024-01-01T00:00:00Z"}, "o": {"a": 1}}, master
    )
    ddl = await store.export_schema("postgres")
    assert '"n" double precision' in ddl
    assert '"when" timestamptz' in ddl
    assert '"o" jsonb' in ddl
    assert '"_rperm" text[]' in ddl
    assert "ROW LEVEL SECURITY" not in ddl
    assert 'CREATE UNIQUE INDEX "_User_unique_username"' in ddl


@pytest.mark.sqlite_only("exports are not on the PostgreSQL store yet")
async def test_supabase_export_enables_rls_with_policies(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    await store.create("Item", {"n": 1}, master)
    ddl = await store.export_schema("supabase")
    assert 'ALTER TABLE "Item" ENABLE ROW LEVEL SECURITY;' in ddl
    assert 'CREATE POLICY "Item_select" ON "Item" FOR SELECT' in ddl
    assert '"_Session"' not in ddl


@pytest.mark.sqlite_only("exports are not on the PostgreSQL store yet")
async def test_supabase_export_refuses_role_acls(store: SqliteRecordStore, master: CallerContext) -> None:
    await store.create("Item", {"ACL": {"role:staff": {"read": True}}}, master)
    with pytest.raises(ExportRefusedError, match="CANNOT_CROSS"):
        await store.export_schema("supabase")


@pytest.mark.sqlite_only("SQLite indexes and exports")
async def test_declared_indexes_are_created_used_and_exported(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    await store.create("Item", {"bucket": 1, "name": "a"}, master)
    schema = await store.update_class("Item", {"indexes": {"bucket_1": {"bucket": 1}}})
    assert schema["indexes"] == {"bucket_1": {"bucket": 1}}
    connection = sqlite3.connect(store.path)
    plan = connection.execute(
        'EXPLAIN QUERY PLAN SELECT * FROM "Item" AS t WHERE t."bucket" IS ?', (1,)
    ).fetchall()
    connection.close()
    assert any("Item_bucket_1" in str(step) for step in plan)
    assert 'CREATE INDEX "Item_bucket_1" ON "Item" ("bucket");' in await store.export_schema("postgres")
    with pytest.raises(InvalidSchemaOperationError):
        await store.update_class("Item", {"indexes": {"bad": {"nope": 1}}})
    dropped = await store.update_class("Item", {"fields": {"bucket": {"__op": "Delete"}}})
    assert "indexes" not in dropped
