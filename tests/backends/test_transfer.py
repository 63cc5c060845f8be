"""Records export and import: JSON lines round trip, SQL with data, Parse Server exports, dry runs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sidecar.backends.transfer import export_data, import_data
from sidecar.store import CallerContext, QueryOptions, SqliteRecordStore

MASTER = CallerContext.master()


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[SqliteRecordStore]:
    opened = await SqliteRecordStore.open(tmp_path / "source.db")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def target(tmp_path: Path) -> AsyncIterator[SqliteRecordStore]:
    opened = await SqliteRecordStore.open(tmp_path / "target.db")
    try:
        yield opened
    finally:
        await opened.close()


async def _fill(store: SqliteRecordStore) -> None:
    await store.create_class("Author", {"fields": {"name": {"type": "String", "required": True}}})
    alice = await store.signup({"username": "alice", "password": "wonderland", "email": "a@x.org"}, MASTER)
    author = await store.create("Author", {"name": "Le Guin"}, MASTER)
    book = await store.create(
        "Book",
        {
            "title": "The Dispossessed",
            "pages": 387,
            "published": {"__type": "Date", "iso": "1974-05-01T00:00:00.000Z"},
            "tags": ["anarchy", "physics"],
            "meta": {"series": "Hainish", "n": 6},
            "where": {"__type": "GeoPoint", "latitude": 45.5, "longitude": -122.6},
            "author": {"__type": "Pointer", "className": "Author", "objectId": author.object_id},
            "ACL": {"*": {"read": True}, alice["objectId"]: {"read": True, "write": True}},
        },
        MASTER,
    )
    await store.create("Book", {"title": "Lathe of Heaven", "pages": 184}, MASTER)
    fan = {"__type": "Pointer", "className": "_User", "objectId": alice["objectId"]}
    await store.add_relation("Book", book.object_id, "fans", [fan], MASTER)


async def _everything(store: SqliteRecordStore, class_name: str) -> list[dict[str, Any]]:
    found = await store.query(class_name, QueryOptions(order=("objectId",), limit=1000), MASTER)
    return found.results


async def _fans(store: SqliteRecordStore, book_id: str) -> list[str]:
    where = {
        "$relatedTo": {
            "object": {"__type": "Pointer", "className": "Book", "objectId": book_id},
            "key": "fans",
        }
    }
    found = await store.query("_User", QueryOptions(where=where), MASTER)
    return [user["objectId"] for user in found.results]


async def test_jsonl_round_trip_is_equal_record_by_record(
    source: SqliteRecordStore, target: SqliteRecordStore, tmp_path: Path
) -> None:
    await _fill(source)
    files = tmp_path / "files"
    files.mkdir()
    (files / "cover.png").write_bytes(b"\x89PNG" + b"0" * 96)
    exported = await export_data(source, files, "jsonl", password_hashes=True)
    assert exported["counts"] == {"Author": 1, "Book": 2, "_Role": 0, "_User": 1}
    assert exported["files"] == [{"name": "cover.png", "size": 100}]
    assert "_Session" not in exported["content"]

    stages: list[tuple[str, int, int]] = []
    report = await import_data(target, exported["content"], "jsonl", progress=lambda *s: stages.append(s))
    assert report["rejected"] == []
    assert (report["accepted"], report["relations"], report["files"]) == (4, 1, 1)
    assert stages[-1] == ("import", 4, 4)
    for class_name in ("Author", "Book", "_User"):
        assert await _everything(target, class_name) == await _everything(source, class_name), class_name
    book = next(b for b in await _everything(source, "Book") if b["title"] == "The Dispossessed")
    assert await _fans(target, book["objectId"]) == await _fans(source, book["objectId"])
    assert (await target.get_schema("Author"))["fields"]["name"].get("required") is True
    # The password hash came along: the user signs in on the new backend.
    assert (await target.login("alice", None, "wonderland"))["username"] == "alice"


async def test_users_leave_without_password_hashes_unless_asked(
    source: SqliteRecordStore, tmp_path: Path
) -> None:
    await _fill(source)
    plain = await export_data(source, tmp_path, "jsonl", ["_User"])
    assert "hashedPassword" not in plain["content"]
    assert '"passwordHashes":false' in plain["content"]
    sql = await export_data(source, tmp_path, "postgres", ["Book"])
    assert sql["content"].startswith('CREATE TABLE IF NOT EXISTS "_SCHEMA"')
    assert 'CREATE TABLE "Book"' in sql["content"]
    assert 'INSERT INTO "Book"' in sql["content"]
    assert 'CREATE TABLE "Author"' not in sql["content"]
    assert 'INSERT INTO "_Join:fans:Book"' in sql["content"]
    users = await export_data(source, tmp_path, "postgres", ["_User"])
    assert "_hashed_password" not in users["content"].split('INSERT INTO "_User"')[1]
    with_hashes = await export_data(source, tmp_path, "postgres", ["_User"], password_hashes=True)
    assert "_hashed_password" in with_hashes["content"].split('INSERT INTO "_User"')[1]


async def test_parse_server_export_with_inference_dry_run_and_rejected_rows(
    target: SqliteRecordStore,
) -> None:
    export = {
        "results": [
            {
                "objectId": "a1",
                "createdAt": "2020-01-02T03:04:05.678Z",
                "updatedAt": "2020-01-03T00:00:00.000Z",
                "name": "Ada",
                "age": 36,
                "_rperm": ["*"],
                "ACL": {"*": {"read": True}},
            },
            {"objectId": "a2", "name": "Grace", "age": "eighty-five"},
            {"objectId": "a3", "name": "Linus", "born": {"__type": "Date", "iso": "1969-12-28T00:00:00Z"}},
            "not an object",
        ]
    }
    text = json.dumps(export)
    dry = await import_data(target, text, "parse", class_name="Person", dry_run=True)
    assert dry["dryRun"] is True
    assert dry["accepted"] == 2
    assert dry["newFields"] == {"Person": {"name": "String", "age": "Number", "born": "Date"}}
    assert [(r["line"], r["objectId"]) for r in dry["rejected"]] == [(2, "a2"), (4, None)]
    assert "age is String here but Number" in dry["rejected"][0]["reason"]
    assert "Person" not in {s["className"] for s in await target.list_schemas()}  # nothing written

    done = await import_data(target, text, "parse", class_name="Person")
    assert (done["accepted"], done["rejectedCount"]) == (2, 2)
    ada = await target.fetch("Person", "a1", MASTER)
    assert (ada["createdAt"], ada["updatedAt"], ada["age"]) == (
        "2020-01-02T03:04:05.678Z",
        "2020-01-03T00:00:00.000Z",
        36,
    )
    assert ada["ACL"] == {"*": {"read": True}}
    again = await import_data(target, text, "parse", class_name="Person", dry_run=True)
    assert again["accepted"] == 0
    assert "a1 already exists" in again["rejected"][0]["reason"]


async def test_broken_jsonl_lines_are_reported_and_the_rest_imported(target: SqliteRecordStore) -> None:
    lines = [
        '{"type":"header","format":"noodl-sidecar/records","version":1}',
        '{"type":"record","className":"Note","record":{"objectId":"n1","text":"ok"}}',
        "{not json",
        '{"type":"mystery"}',
        '{"type":"record","className":"Bad Name!","record":{"text":"x"}}',
    ]
    report = await import_data(target, "\n".join(lines), "jsonl")
    assert report["accepted"] == 1
    assert [r["line"] for r in report["rejected"]] == [3, 4, 5]
    assert (await target.fetch("Note", "n1", MASTER))["text"] == "ok"
