"""Creates sent at the same time (on PostgreSQL they share statements: ``store.postgres.create_batches``):
each is answered for itself, a refused one takes no other with it, and every stored row keeps its own
fields and ACL."""

from __future__ import annotations

import asyncio
from typing import Any

from sidecar.errors import DuplicateObjectIdError, InvalidJsonError
from sidecar.store import CallerContext, ChangeEvent, CreateResult, QueryOptions, SqliteRecordStore

ODD_ROLE = " two  words - and_more "
"""A role name PostgreSQL's array text would change unquoted (its outer spaces)."""


async def _create_all(
    store: SqliteRecordStore, bodies: list[dict[str, Any]], caller: CallerContext
) -> list[CreateResult | BaseException]:
    return await asyncio.gather(
        *(store.create("Item", body, caller) for body in bodies), return_exceptions=True
    )


async def test_concurrent_creates_are_answered_one_by_one(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    await store.create("Item", {"n": -1, "label": "first"}, master)  # the class and its fields exist
    seen: list[ChangeEvent] = []
    store.subscribe(seen.append)
    bodies: list[dict[str, Any]] = [{"n": n, "label": f"row {n}"} for n in range(24)]
    bodies[5] = {"objectId": "taken", "n": 5, "label": "one of two"}
    bodies[9] = {"objectId": "taken", "n": 9, "label": "two of two"}
    bodies[12] = {"n": 12, "label": "lone \ud800"}

    answers = await _create_all(store, bodies, master)

    assert isinstance(answers[12], InvalidJsonError)
    duplicates = [answers[5], answers[9]]
    assert sum(isinstance(a, DuplicateObjectIdError) for a in duplicates) == 1
    assert sum(isinstance(a, CreateResult) for a in duplicates) == 1
    created = [a for a in answers if isinstance(a, CreateResult)]
    assert len(created) == 22
    stored = (await store.query("Item", QueryOptions(where={"n": {"$gte": 0}}, limit=100), master)).results
    assert sorted((row["objectId"], row["n"], row["label"]) for row in stored) == sorted(
        (answer.object_id, bodies[n]["n"], bodies[n]["label"])
        for n, answer in enumerate(answers)
        if isinstance(answer, CreateResult)
    )
    assert sorted(event.object_id for event in seen) == sorted(answer.object_id for answer in created)


async def test_a_row_created_among_others_keeps_an_acl_of_odd_role_names(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    await store.create("Item", {"n": -1, "label": "first"}, master)
    acl = {f"role:{ODD_ROLE}": {"read": True}, "user-1": {"read": True, "write": True}}
    bodies: list[dict[str, Any]] = [{"n": n, "label": "public"} for n in range(10)]
    bodies[7] = {"n": 7, "label": "guarded", "ACL": acl}

    answers = await _create_all(store, bodies, master)

    guarded = answers[7]
    assert isinstance(guarded, CreateResult)
    member = CallerContext.user("user-2", frozenset({ODD_ROLE}), "token")
    stranger = CallerContext.user("user-3", frozenset({"a"}), "token")
    where = {"label": "guarded"}
    seen_by_member = (await store.query("Item", QueryOptions(where=where), member)).results
    assert [row["objectId"] for row in seen_by_member] == [guarded.object_id]
    assert seen_by_member[0]["ACL"] == acl
    assert (await store.query("Item", QueryOptions(where=where), stranger)).results == []
    assert len((await store.query("Item", QueryOptions(where={"label": "public"}), stranger)).results) == 9
