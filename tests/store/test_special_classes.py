"""Parse's special classes in the store itself, so every door meets them: session tokens kept as digests
(and the migration of older data directories), ``_Session`` ownership, ``_User``'s server-owned
fields, ``_Role`` names and ``_Installation``."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from sidecar.backends import data
from sidecar.backends.records_port import StoreRecordsPort
from sidecar.errors import (
    ImmutableFieldError,
    InvalidKeyNameError,
    InvalidSessionTokenError,
    MissingRequiredFieldError,
    ObjectNotFoundError,
    OperationForbiddenError,
    UnsupportedServiceError,
)
from sidecar.store import CallerContext, ChangeEvent, QueryOptions, SqliteRecordStore


def pointer(user_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": "_User", "objectId": user_id}


def stored_tokens(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute('SELECT "sessionToken" FROM "_Session"')]


@pytest.mark.sqlite_only("reads the SQLite file")
async def test_session_rows_hold_digests_and_reads_never_return_them(
    store: SqliteRecordStore, tmp_path: Path, master: CallerContext
) -> None:
    answer = await store.signup({"username": "ann", "password": "pw"}, CallerContext.anonymous())
    token = answer["sessionToken"]
    assert token not in stored_tokens(tmp_path / "local.db")
    assert all(len(value) == 64 for value in stored_tokens(tmp_path / "local.db"))
    ann = await store.caller_for_session(token)
    for caller in (master, ann):
        found = await store.query("_Session", QueryOptions(), caller)
        assert found.results
        assert all("sessionToken" not in row for row in found.results)
        fetched = await store.fetch("_Session", found.results[0]["objectId"], caller)
        assert "sessionToken" not in fetched


async def test_change_events_of_sessions_carry_no_token(store: SqliteRecordStore) -> None:
    seen: list[ChangeEvent] = []
    store.subscribe(seen.append)
    await store.signup({"username": "ann", "password": "pw"}, CallerContext.anonymous())
    await asyncio.sleep(0.05)
    sessions = [event for event in seen if event.class_name == "_Session"]
    assert sessions
    assert all("sessionToken" not in event.record for event in sessions)


async def test_a_data_directory_with_plaintext_tokens_is_migrated_at_open(tmp_path: Path) -> None:
    path = tmp_path / "local.db"
    store = await SqliteRecordStore.open(path)
    answer = await store.signup({"username": "ann", "password": "pw"}, CallerContext.anonymous())
    await store.close()
    with sqlite3.connect(path) as db:  # what an older version left: the token itself, no migration record
        db.execute('UPDATE "_Session" SET "sessionToken" = ?', (answer["sessionToken"],))
        db.execute('DROP TABLE "_StoreMigrations"')
    store = await SqliteRecordStore.open(path)
    try:
        assert stored_tokens(path) != [answer["sessionToken"]]
        assert len(stored_tokens(path)[0]) == 64
        caller = await store.caller_for_session(answer["sessionToken"])  # the old token still works
        assert caller.user_id == answer["objectId"]
    finally:
        await store.close()
    with sqlite3.connect(path) as db:
        names = [row[0] for row in db.execute('SELECT name FROM "_StoreMigrations"')]
    assert names == ["session-tokens-hashed"]
    assert answer["sessionToken"].encode() not in path.read_bytes()  # not even in a freed cell


async def test_the_migration_keeps_one_row_when_a_token_is_stored_both_ways(tmp_path: Path) -> None:
    path = tmp_path / "local.db"
    store = await SqliteRecordStore.open(path)
    answer = await store.signup({"username": "ann", "password": "pw"}, CallerContext.anonymous())
    await store.close()
    with sqlite3.connect(path) as db:  # the same token once as a digest and once in plaintext
        db.execute(
            'INSERT INTO "_Session" ("objectId", "createdAt", "updatedAt", "user", "sessionToken") '
            "VALUES ('legacy', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', ?, ?)",
            (answer["objectId"], answer["sessionToken"]),
        )
        db.execute('DROP TABLE "_StoreMigrations"')
    store = await SqliteRecordStore.open(path)
    try:
        assert (await store.caller_for_session(answer["sessionToken"])).user_id == answer["objectId"]
    finally:
        await store.close()
    assert len(stored_tokens(path)) == 1


async def test_reopening_does_not_digest_a_digest_again(tmp_path: Path) -> None:
    path = tmp_path / "local.db"
    store = await SqliteRecordStore.open(path)
    answer = await store.signup({"username": "ann", "password": "pw"}, CallerContext.anonymous())
    await store.close()
    store = await SqliteRecordStore.open(path)
    try:
        assert (await store.caller_for_session(answer["sessionToken"])).user_id == answer["objectId"]
    finally:
        await store.close()


@pytest.mark.sqlite_only("reads the SQLite file")
async def test_a_session_created_through_the_editor_or_a_function_stores_a_digest(
    store: SqliteRecordStore, tmp_path: Path, master: CallerContext
) -> None:
    """The IPC ``backend:createRecord`` channel and a function's records port act as master."""
    user = await store.signup({"username": "ann", "password": "pw"}, CallerContext.anonymous())
    created = await data.create_record(store, "_Session", {"user": pointer(user["objectId"])})
    token = created["sessionToken"]
    assert token.startswith("r:")
    assert token not in stored_tokens(tmp_path / "local.db")
    assert (await store.caller_for_session(token)).user_id == user["objectId"]
    chosen = "r:" + "cd" * 16
    await StoreRecordsPort(store).create(
        "_Session", {"user": pointer(user["objectId"]), "sessionToken": chosen}
    )
    assert chosen not in stored_tokens(tmp_path / "local.db")
    assert (await store.caller_for_session(chosen)).user_id == user["objectId"]
    listed = await data.query_records(store, {"collection": "_Session"})
    assert all("sessionToken" not in row for row in listed["results"])


async def test_a_users_session_create_ignores_every_server_set_field(store: SqliteRecordStore) -> None:
    victim = await store.signup({"username": "victim", "password": "pw"}, CallerContext.anonymous())
    attacker = await store.caller_for_session(
        (await store.signup({"username": "attacker", "password": "pw"}, CallerContext.anonymous()))[
            "sessionToken"
        ]
    )
    forged = {
        "user": pointer(victim["objectId"]),
        "sessionToken": "r:attacker",
        "objectId": "chosen",
        "createdWith": {"action": "login"},
        "installationId": "device-1",
    }
    created = await store.create("_Session", forged, attacker)
    assert created.object["user"] == pointer(attacker.user_id or "")
    assert created.object["installationId"] == "device-1"
    assert created.object_id != "chosen"
    with pytest.raises(InvalidSessionTokenError):
        await store.caller_for_session("r:attacker")
    with pytest.raises(InvalidSessionTokenError, match="Session token required"):
        await store.create("_Session", forged, CallerContext.anonymous())


async def test_sessions_of_others_look_missing(store: SqliteRecordStore, master: CallerContext) -> None:
    ann = await store.caller_for_session(
        (await store.signup({"username": "ann", "password": "pw"}, CallerContext.anonymous()))["sessionToken"]
    )
    bob = await store.signup({"username": "bob", "password": "pw"}, CallerContext.anonymous())
    # A session the master wrote with a public ACL: the class rule still keeps it to its owner.
    public = {"user": pointer(bob["objectId"]), "ACL": {"*": {"read": True, "write": True}}}
    bobs = await store.create("_Session", public, master)
    with pytest.raises(ObjectNotFoundError):
        await store.fetch("_Session", bobs.object_id, ann)
    with pytest.raises(ObjectNotFoundError):
        await store.save("_Session", bobs.object_id, {"note": "x"}, ann)
    with pytest.raises(ObjectNotFoundError):
        await store.delete("_Session", bobs.object_id, ann)
    assert await store.count("_Session", {}, ann) == 1
    with pytest.raises(InvalidSessionTokenError):
        await store.count("_Session", {}, CallerContext.anonymous())


@pytest.mark.parametrize(
    "change",
    [
        {"sessionToken": "r:x"},
        {"installationId": "x"},
        {"expiresAt": {"__type": "Date", "iso": "2099-01-01T00:00:00.000Z"}},
        {"createdWith": {"action": "signup"}},
        {"ACL": {"*": {"read": True}}},
    ],
)
async def test_server_set_session_fields_are_105_to_clients(
    store: SqliteRecordStore, change: dict[str, Any]
) -> None:
    token = (await store.signup({"username": "ann", "password": "pw"}, CallerContext.anonymous()))[
        "sessionToken"
    ]
    ann = await store.caller_for_session(token)
    session = await store.current_session(token)
    with pytest.raises(InvalidKeyNameError):
        await store.save("_Session", session["objectId"], change, ann)
    await store.save("_Session", session["objectId"], {"user": pointer(ann.user_id or ""), "note": "ok"}, ann)


async def test_a_user_row_never_keeps_or_returns_a_session_token(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    answer = await store.signup(
        {"username": "ann", "password": "pw", "sessionToken": "r:planted"}, CallerContext.anonymous()
    )
    ann = await store.caller_for_session(answer["sessionToken"])
    await store.save("_User", answer["objectId"], {"sessionToken": "r:planted", "age": 3}, ann)
    await store.save("_User", answer["objectId"], {"sessionToken": "r:planted"}, master)
    for caller in (ann, master):
        assert "sessionToken" not in await store.fetch("_User", answer["objectId"], caller)
    with pytest.raises(InvalidSessionTokenError):
        await store.caller_for_session("r:planted")


async def test_client_auth_data_is_252(store: SqliteRecordStore) -> None:
    linked = {"facebook": {"id": "1", "access_token": "t"}}
    with pytest.raises(UnsupportedServiceError):
        await store.signup(
            {"username": "ann", "password": "pw", "authData": linked}, CallerContext.anonymous()
        )
    answer = await store.signup({"username": "bob", "password": "pw"}, CallerContext.anonymous())
    bob = await store.caller_for_session(answer["sessionToken"])
    with pytest.raises(UnsupportedServiceError):
        await store.save("_User", answer["objectId"], {"authData": linked}, bob)
    with pytest.raises(UnsupportedServiceError):
        await store.create("_User", {"username": "cy", "password": "pw", "authData": linked}, bob)


@pytest.mark.parametrize("change", [{"name": {"__op": "Delete"}}, {"name": None}, {"name.x": 1}])
async def test_a_role_name_cannot_change_through_operators(
    store: SqliteRecordStore, master: CallerContext, change: dict[str, Any]
) -> None:
    role = await store.create("_Role", {"name": "staff", "ACL": {"*": {"read": True}}}, master)
    with pytest.raises((ImmutableFieldError, InvalidKeyNameError)):
        await store.save("_Role", role.object_id, change, master)
    await store.save("_Role", role.object_id, {"name": "staff"}, master)  # the same name is no change


async def test_installations_follow_parses_rules(store: SqliteRecordStore, master: CallerContext) -> None:
    anonymous = CallerContext.anonymous()
    with pytest.raises(MissingRequiredFieldError):
        await store.create("_Installation", {"deviceType": "ios"}, anonymous)
    created = await store.create("_Installation", {"installationId": "ABC-1", "deviceType": "ios"}, anonymous)
    assert created.object["installationId"] == "abc-1"
    with pytest.raises(OperationForbiddenError):
        await store.query("_Installation", QueryOptions(), anonymous)
    with pytest.raises(OperationForbiddenError):
        await store.delete("_Installation", created.object_id, anonymous)
    with pytest.raises(ImmutableFieldError):
        await store.save("_Installation", created.object_id, {"deviceType": "android"}, anonymous)
    await store.save("_Installation", created.object_id, {"installationId": "ABC-1", "badge": 2}, anonymous)
    assert len((await store.query("_Installation", QueryOptions(), master)).results) == 1


async def test_an_include_expands_only_the_callers_own_sessions(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    ann_token = (await store.signup({"username": "ann", "password": "pw"}, CallerContext.anonymous()))[
        "sessionToken"
    ]
    ann = await store.caller_for_session(ann_token)
    bob = await store.signup({"username": "bob", "password": "pw"}, CallerContext.anonymous())
    public = {"user": pointer(bob["objectId"]), "ACL": {"*": {"read": True}}}
    bobs = await store.create("_Session", public, master)
    anns = await store.current_session(ann_token)
    for session_id in (bobs.object_id, anns["objectId"]):
        link = {"session": {"__type": "Pointer", "className": "_Session", "objectId": session_id}}
        await store.create("Link", link, master)
    found = await store.query("Link", QueryOptions(include=("session",)), ann)
    expanded = {row["session"]["objectId"]: row["session"].get("__type") for row in found.results}
    assert expanded == {bobs.object_id: "Pointer", anns["objectId"]: "Object"}
    anonymous = await store.query("Link", QueryOptions(include=("session",)), CallerContext.anonymous())
    assert {row["session"]["__type"] for row in anonymous.results} == {"Pointer"}


async def test_the_migration_drops_tokens_saved_on_user_rows(tmp_path: Path) -> None:
    path = tmp_path / "local.db"
    store = await SqliteRecordStore.open(path)
    answer = await store.signup({"username": "ann", "password": "pw"}, CallerContext.anonymous())
    await store.close()
    with sqlite3.connect(path) as db:  # an older version stored what Users.Current.save() sent
        db.execute('ALTER TABLE "_User" ADD COLUMN "sessionToken" TEXT')
        db.execute('UPDATE "_User" SET "sessionToken" = ?', (answer["sessionToken"],))
        db.execute('DROP TABLE "_StoreMigrations"')
    store = await SqliteRecordStore.open(path)
    await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute('SELECT "sessionToken" FROM "_User"').fetchall() == [(None,)]
