"""Schema columns marked ``required``: enforced on create and update with Parse's 142, defaults first."""

from __future__ import annotations

import pytest

from sidecar.errors import RequiredFieldError
from sidecar.store import CallerContext, QueryOptions, SqliteRecordStore


async def _book_class(store: SqliteRecordStore) -> None:
    await store.create_class(
        "Book",
        {
            "fields": {
                "title": {"type": "String", "required": True},
                "pages": {"type": "Number", "required": True, "defaultValue": 100},
                "note": {"type": "String"},
            }
        },
    )


async def test_create_without_a_required_column_is_142_and_stores_nothing(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    await _book_class(store)
    for body in ({"note": "no title"}, {"title": None, "note": "null title"}):
        with pytest.raises(RequiredFieldError, match="title is required") as caught:
            await store.create("Book", body, master)
        assert caught.value.parse_code == 142
    assert (await store.query("Book", QueryOptions(), master)).results == []


async def test_a_required_column_with_a_default_takes_the_default(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    await _book_class(store)
    created = await store.create("Book", {"title": "Dune"}, master)
    stored = await store.fetch("Book", created.object_id, master)
    assert stored["pages"] == 100
    given = await store.create("Book", {"title": "Emma", "pages": 7}, master)
    assert (await store.fetch("Book", given.object_id, master))["pages"] == 7


async def test_update_may_leave_out_but_not_unset_a_required_column(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    await _book_class(store)
    created = await store.create("Book", {"title": "Dune"}, master)
    await store.save("Book", created.object_id, {"note": "kept"}, master)
    for body in ({"title": None}, {"title": {"__op": "Delete"}}):
        with pytest.raises(RequiredFieldError, match="title is required"):
            await store.save("Book", created.object_id, body, master)
    stored = await store.fetch("Book", created.object_id, master)
    assert stored["title"] == "Dune"
    assert stored["note"] == "kept"


async def test_classes_without_required_columns_take_any_body(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    created = await store.create("Free", {"anything": 1}, master)
    await store.save("Free", created.object_id, {"anything": None}, master)
