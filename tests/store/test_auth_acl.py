"""Users, sessions, roles, row ACLs and class-level permissions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from sidecar.errors import (
    DuplicateValueError,
    EmailTakenError,
    ImmutableFieldError,
    InvalidAclError,
    InvalidEmailError,
    InvalidRoleNameError,
    InvalidSessionTokenError,
    MissingRequiredFieldError,
    ObjectNotFoundError,
    OperationForbiddenError,
    PasswordMissingError,
    UsernameMissingError,
    UsernameTakenError,
)
from sidecar.store import CallerContext, QueryOptions, SqliteRecordStore


async def signed_up(store: SqliteRecordStore, name: str) -> CallerContext:
    answer = await store.signup(
        {"username": name, "password": "pw-" + name, "email": f"{name}@x.io"}, CallerContext.anonymous()
    )
    return await store.caller_for_session(answer["sessionToken"])


async def test_signup_returns_id_created_at_and_a_session_token(store: SqliteRecordStore) -> None:
    answer = await store.signup({"username": "ann", "password": "secret"}, CallerContext.anonymous())
    assert set(answer) == {"objectId", "createdAt", "sessionToken"}
    assert answer["sessionToken"].startswith("r:")
    assert len(answer["sessionToken"]) == 34


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"password": "x"}, UsernameMissingError),
        ({"username": "x"}, PasswordMissingError),
        ({"username": "x", "password": "x", "email": "not-an-email"}, InvalidEmailError),
        ({"username": "ANN", "password": "x"}, UsernameTakenError),
        ({"username": "other", "password": "x", "email": "Ann@X.io"}, EmailTakenError),
    ],
)
async def test_signup_errors(store: SqliteRecordStore, body: dict[str, str], error: type[Exception]) -> None:
    await store.signup({"username": "ann", "password": "pw", "email": "ann@x.io"}, CallerContext.anonymous())
    with pytest.raises(error):
        await store.signup(body, CallerContext.anonymous())


async def test_login_returns_the_user_without_password_and_a_new_token(store: SqliteRecordStore) -> None:
    await store.signup(
        {"username": "ann", "password": "pw", "email": "ann@x.io", "age": 3}, CallerContext.anonymous()
    )
    user = await store.login("ann", None, "pw")
    assert user["username"] == "ann"
    assert user["age"] == 3
    assert user["sessionToken"].startswith("r:")
    assert "password" not in user
    assert not any(k.startswith("_") for k in user)
    by_email = await store.login("ann@x.io", None, "pw")  # username alone also matches the email
    assert by_email["objectId"] == user["objectId"]
    for username, password in (("ann", "wrong"), ("nobody", "pw")):
        with pytest.raises(ObjectNotFoundError, match="Invalid username/password"):
            await store.login(username, None, password)


@pytest.mark.sqlite_only("reads the SQLite file")
async def test_passwords_are_stored_as_scrypt_hashes(store: SqliteRecordStore, tmp_path: Path) -> None:
    import sqlite3

    await store.signup({"username": "ann", "password": "pw"}, CallerContext.anonymous())
    stored = sqlite3.connect(store.path).execute('SELECT "_hashed_password" FROM "_User"').fetchone()[0]
    assert stored.startswith("scrypt$")
    assert "pw" not in stored.split("$")[1:4]


async def test_sessions_have_expiry_and_logout_revokes(store: SqliteRecordStore) -> None:
    answer = await store.signup({"username": "ann", "password": "pw"}, CallerContext.anonymous())
    token = answer["sessionToken"]
    me = await store.current_user(token)
    assert me["sessionToken"] == token
    assert me["username"] == "ann"
    session = await store.current_session(token)  # rows keep a digest: found by the token, not by a where
    assert session["expiresAt"]["__type"] == "Date"
    await store.logout(token)
    with pytest.raises(InvalidSessionTokenError) as raised:
        await store.caller_for_session(token)
    assert raised.value.parse_code == 209


async def test_expired_sessions_are_209(tmp_path: Path) -> None:
    store = await SqliteRecordStore.open(tmp_path / "s.db", session_lifetime=timedelta(seconds=-1))
    try:
        answer = await store.signup({"username": "ann", "password": "pw"}, CallerContext.anonymous())
        with pytest.raises(InvalidSessionTokenError, match="expired"):
            await store.caller_for_session(answer["sessionToken"])
    finally:
        await store.close()


async def test_private_rows_are_404_to_others_and_visible_to_the_owner(store: SqliteRecordStore) -> None:
    ann, bob = await signed_up(store, "ann"), await signed_up(store, "bob")
    assert ann.user_id is not None
    private = await store.create(
        "Note", {"text": "mine", "ACL": {ann.user_id: {"read": True, "write": True}}}, ann
    )
    public = await store.create("Note", {"text": "all"}, ann)
    assert (await store.fetch("Note", private.object_id, ann))["text"] == "mine"
    for caller in (bob, CallerContext.anonymous()):
        with pytest.raises(ObjectNotFoundError):
            await store.fetch("Note", private.object_id, caller)
        with pytest.raises(ObjectNotFoundError):
            await store.save("Note", private.object_id, {"text": "hacked"}, caller)
        with pytest.raises(ObjectNotFoundError):
            await store.delete("Note", private.object_id, caller)
        found = await store.query("Note", QueryOptions(count=True), caller)
        assert [o["objectId"] for o in found.results] == [public.object_id]
        assert found.count == 1


async def test_read_only_acl_allows_reading_but_not_writing(store: SqliteRecordStore) -> None:
    ann, bob = await signed_up(store, "ann"), await signed_up(store, "bob")
    assert ann.user_id is not None
    acl = {"*": {"read": True}, ann.user_id: {"write": True}}
    note = await store.create("Note", {"text": "x", "ACL": acl}, ann)
    assert (await store.fetch("Note", note.object_id, bob))["ACL"] == {
        "*": {"read": True},
        ann.user_id: {"write": True},
    }
    with pytest.raises(ObjectNotFoundError):
        await store.save("Note", note.object_id, {"text": "y"}, bob)
    await store.save("Note", note.object_id, {"text": "z"}, ann)


async def test_roles_grant_access_transitively(store: SqliteRecordStore, master: CallerContext) -> None:
    ann = await signed_up(store, "ann")
    assert ann.user_id is not None
    staff = await store.create("_Role", {"name": "staff", "ACL": {"*": {"read": True}}}, master)
    admins = await store.create("_Role", {"name": "admins", "ACL": {"*": {"read": True}}}, master)
    await store.add_relation(
        "_Role",
        staff.object_id,
        "users",
        [{"__type": "Pointer", "className": "_User", "objectId": ann.user_id}],
        master,
    )
    await store.add_relation(
        "_Role",
        admins.object_id,
        "roles",
        [{"__type": "Pointer", "className": "_Role", "objectId": staff.object_id}],
        master,
    )
    caller = await store.caller_for_session(ann.session_token or "")
    assert caller.roles == {"staff", "admins"}
    note = await store.create("Note", {"ACL": {"role:admins": {"read": True}}}, master)
    assert (await store.fetch("Note", note.object_id, caller))["objectId"] == note.object_id
    with pytest.raises(ObjectNotFoundError):
        await store.fetch("Note", note.object_id, CallerContext.anonymous())


@pytest.mark.parametrize(
    "acl",
    [
        {"role:undefined": {"read": True}},
        {"bad key!": {"read": True}},
        {"*": {"read": "yes"}},
        {"*": {"delete": True}},
        "public",
    ],
)
async def test_malformed_acls_are_123(store: SqliteRecordStore, master: CallerContext, acl: object) -> None:
    with pytest.raises(InvalidAclError) as raised:
        await store.create("Note", {"ACL": acl}, master)
    assert raised.value.parse_code == 123


async def test_users_are_private_by_default(store: SqliteRecordStore) -> None:
    ann, bob = await signed_up(store, "ann"), await signed_up(store, "bob")
    assert ann.user_id is not None
    assert (await store.query("_User", QueryOptions(), CallerContext.anonymous())).results == []
    with pytest.raises(ObjectNotFoundError):
        await store.fetch("_User", ann.user_id, bob)
    assert (await store.fetch("_User", ann.user_id, ann))["email"] == "ann@x.io"


async def test_class_level_permissions_are_enforced(store: SqliteRecordStore, master: CallerContext) -> None:
    ann = await signed_up(store, "ann")
    await store.create_class(
        "Locked",
        {
            "classLevelPermissions": {
                "find": {},
                "get": {},
                "count": {},
                "create": {"requiresAuthentication": True},
                "update": {},
                "delete": {},
                "addField": {"*": True},
                "protectedFields": {},
            }
        },
    )
    with pytest.raises(OperationForbiddenError) as raised:
        await store.create("Locked", {"a": 1}, CallerContext.anonymous())
    assert raised.value.http_status == 403
    assert raised.value.parse_code == 119
    await store.create("Locked", {"a": 1}, ann)
    with pytest.raises(OperationForbiddenError):
        await store.query("Locked", QueryOptions(), ann)
    assert len((await store.query("Locked", QueryOptions(), master)).results) == 1


async def test_client_class_creation_can_be_turned_off(tmp_path: Path) -> None:
    store = await SqliteRecordStore.open(tmp_path / "c.db", allow_client_class_creation=False)
    try:
        with pytest.raises(OperationForbiddenError):
            await store.create("Fresh", {"a": 1}, CallerContext.anonymous())
        await store.create("Fresh", {"a": 1}, CallerContext.master())
    finally:
        await store.close()


async def test_roles_need_a_valid_unique_immutable_name_and_an_acl(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    acl = {"*": {"read": True}}
    with pytest.raises(InvalidRoleNameError):
        await store.create("_Role", {"name": "bad/name", "ACL": acl}, master)
    with pytest.raises(MissingRequiredFieldError):
        await store.create("_Role", {"name": "staff"}, master)
    role = await store.create("_Role", {"name": "staff", "ACL": acl}, master)
    with pytest.raises(DuplicateValueError):
        await store.create("_Role", {"name": "staff", "ACL": acl}, master)
    with pytest.raises(ImmutableFieldError):
        await store.save("_Role", role.object_id, {"name": "other"}, master)


async def test_protected_fields_hide_values_from_matching_callers(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    ann = await signed_up(store, "ann")
    await store.create_class(
        "Profile",
        {
            "classLevelPermissions": {
                "find": {"*": True},
                "get": {"*": True},
                "create": {"*": True},
                "protectedFields": {"*": ["salary", "phone"], "authenticated": ["salary"]},
            }
        },
    )
    await store.create("Profile", {"salary": 1, "phone": "123", "name": "x"}, master)
    anonymous = (await store.query("Profile", QueryOptions(), CallerContext.anonymous())).results[0]
    signed_in = (await store.query("Profile", QueryOptions(), ann)).results[0]
    everything = (await store.query("Profile", QueryOptions(), master)).results[0]
    assert ("salary" in anonymous, "phone" in anonymous) == (False, False)
    assert ("salary" in signed_in, "phone" in signed_in) == (False, True)
    assert ("salary" in everything, "phone" in everything) == (True, True)


async def test_other_users_emails_are_hidden(store: SqliteRecordStore, master: CallerContext) -> None:
    ann, bob = await signed_up(store, "ann"), await signed_up(store, "bob")
    assert ann.user_id is not None
    await store.save("_User", ann.user_id, {"ACL": {"*": {"read": True}}}, master)
    seen_by_bob = await store.fetch("_User", ann.user_id, bob)
    assert seen_by_bob["username"] == "ann"
    assert "email" not in seen_by_bob


async def test_passwords_cannot_be_queried(store: SqliteRecordStore, master: CallerContext) -> None:
    await store.signup({"username": "ann", "password": "pw"}, CallerContext.anonymous())
    found = await store.query("_User", QueryOptions(where={"password": "pw"}), master)
    assert found.results == []
    ordered = await store.query("_User", QueryOptions(order=("password",)), master)
    assert [user["username"] for user in ordered.results] == ["ann"]


async def test_creator_owns_stamps_owner_and_a_private_acl(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    ann, bob = await signed_up(store, "ann"), await signed_up(store, "bob")
    assert ann.user_id is not None
    await store.create_class(
        "Diary",
        {
            "classLevelPermissions": {
                "find": {"*": True},
                "get": {"*": True},
                "create": {"*": True},
                "update": {"*": True},
                "delete": {"*": True},
                "addField": {"*": True},
                "creatorOwns": True,
            }
        },
    )
    entry = await store.create("Diary", {"text": "dear diary"}, ann)
    mine = await store.fetch("Diary", entry.object_id, ann)
    assert mine["owner"] == {"__type": "Pointer", "className": "_User", "objectId": ann.user_id}
    assert mine["ACL"] == {ann.user_id: {"read": True, "write": True}}
    with pytest.raises(ObjectNotFoundError):
        await store.fetch("Diary", entry.object_id, bob)


async def test_renaming_a_user_onto_a_taken_username_is_202(
    store: SqliteRecordStore, master: CallerContext
) -> None:
    await signed_up(store, "ann")
    bob = await signed_up(store, "bob")
    assert bob.user_id is not None
    with pytest.raises(UsernameTakenError):
        await store.save("_User", bob.user_id, {"username": "ann"}, master)


async def test_a_password_change_ends_the_users_other_sessions(store: SqliteRecordStore) -> None:
    ann = await signed_up(store, "ann")
    assert ann.user_id is not None
    other = await store.login("ann", None, "pw-ann")
    await store.save("_User", ann.user_id, {"password": "new-secret"}, ann)
    assert (await store.caller_for_session(ann.session_token or "")).user_id == ann.user_id
    with pytest.raises(InvalidSessionTokenError):
        await store.caller_for_session(other["sessionToken"])
    assert (await store.login("ann", None, "new-secret"))["objectId"] == ann.user_id


async def test_only_master_sets_email_verified(store: SqliteRecordStore, master: CallerContext) -> None:
    ann = await signed_up(store, "ann")
    assert ann.user_id is not None
    with pytest.raises(OperationForbiddenError):
        await store.save("_User", ann.user_id, {"emailVerified": True}, ann)
    body = {"username": "bob", "password": "x", "emailVerified": True}
    bob = await store.signup(body, CallerContext.anonymous())
    assert "emailVerified" not in await store.fetch("_User", bob["objectId"], master)  # ignored on signup
    await store.save("_User", ann.user_id, {"emailVerified": True}, master)
