"""Exports applied to a real PostgreSQL server (``scripts/pg-test-server``), queried back and compared with
what the SQLite store answers for the same data."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sidecar.store import CallerContext, QueryOptions, SqliteRecordStore
from sidecar.store.codec import format_iso


@pytest.fixture
async def populated(tmp_path: Path) -> AsyncIterator[SqliteRecordStore]:
    store = await SqliteRecordStore.open(tmp_path / "export.db")
    master = CallerContext.master()
    ann = await store.signup(
        {"username": "ann", "password": "pw", "email": "ann@x.io"}, CallerContext.anonymous()
    )
    team = await store.create("Team", {"name": 'it\'s "quoted" \\ text'}, master)
    pointer = {"__type": "Pointer", "className": "Team", "objectId": team.object_id}
    for n in range(6):
        await store.create(
            "Item",
            {
                "n": n * 1.5,
                "s": f"item {n}",
                "b": n % 2 == 0,
                "d": {"__type": "Date", "iso": f"2024-0{n + 1}-02T03:04:05.678Z"},
                "o": {"nested": {"k": n}, "quote": "'"},
                "a": [n, "x", {"y": None}],
                "team": pointer,
                "at": {"__type": "GeoPoint", "latitude": 10.0 + n, "longitude": -20.5},
                "ACL": {"*": {"read": True}} if n % 3 else {ann["objectId"]: {"read": True, "write": True}},
            },
            master,
        )
    await store.update_class("Item", {"indexes": {"n_s": {"n": 1, "s": -1}}})
    await store.create(
        "Asset",
        {
            "area": {"__type": "Polygon", "coordinates": [[0, 0], [0, 1.5], [1, 1]]},
            "file": {"__type": "File", "name": "photo (1).png", "url": "http://x/photo.png"},
            "raw": {"__type": "Bytes", "base64": "AAEC"},
        },
        master,
    )
    await store.add_relation(
        "Team",
        team.object_id,
        "members",
        [{"__type": "Pointer", "className": "_User", "objectId": ann["objectId"]}],
        master,
    )
    try:
        yield store
    finally:
        await store.close()


def apply(url: str, *scripts: str) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        for script in scripts:
            connection.execute(script.encode())


def rows(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as connection:
        return connection.execute(query.encode(), params).fetchall()


async def sqlite_items(store: SqliteRecordStore) -> dict[str, dict[str, Any]]:
    result = await store.query("Item", QueryOptions(limit=1000), CallerContext.master())
    return {obj["objectId"]: obj for obj in result.results}


async def test_postgres_export_round_trips_every_value(
    populated: SqliteRecordStore, pg_database: str
) -> None:
    apply(pg_database, await populated.export_schema("postgres"), await populated.export_data("postgres"))
    expected = await sqlite_items(populated)
    found = rows(
        pg_database,
        'SELECT "objectId", "n", "s", "b", "d", "o", "a", "team", "at"[0], "at"[1], '
        '"_rperm", "createdAt" FROM "Item"',
    )
    assert len(found) == len(expected) == 6
    for object_id, n, s, b, d, o, a, team, lng, lat, rperm, created in found:
        obj = expected[object_id]
        assert (n, s, b, o, a, team) == (
            obj["n"],
            obj["s"],
            obj["b"],
            obj["o"],
            obj["a"],
            obj["team"]["objectId"],
        )
        assert isinstance(d, datetime)
        assert format_iso(d) == obj["d"]["iso"]
        assert format_iso(created) == obj["createdAt"]
        assert (lat, lng) == (obj["at"]["latitude"], obj["at"]["longitude"])
        assert sorted(rperm) == sorted(k for k, v in obj["ACL"].items() if v.get("read"))
    team_name = rows(pg_database, 'SELECT "name" FROM "Team"')[0][0]
    assert team_name == 'it\'s "quoted" \\ text'
    assert rows(pg_database, 'SELECT count(*) FROM "_Join:members:Team"')[0][0] == 1
    indexes = {r[0] for r in rows(pg_database, "SELECT indexname FROM pg_indexes WHERE tablename = 'Item'")}
    assert "Item_n_s" in indexes
    area, file_name, raw = rows(pg_database, 'SELECT "area"::text, "file", "raw" FROM "Asset"')[0]
    assert (area, file_name, raw) == (
        "((0,0),(1.5,0),(1,1),(0,0))",
        "photo (1).png",
        {"__type": "Bytes", "base64": "AAEC"},
    )
    schema = rows(pg_database, """SELECT "schema" FROM "_SCHEMA" WHERE "className" = 'Item'""")[0][0]
    assert schema["fields"]["team"] == {"type": "Pointer", "targetClass": "Team"}


@pytest.mark.parametrize(
    ("where", "pg_condition"),
    [
        ({"n": {"$gt": 3}}, '"n" > 3'),
        ({"b": True, "n": {"$lte": 6}}, '"b" AND "n" <= 6'),
        (
            {"d": {"$gte": {"__type": "Date", "iso": "2024-03-01T00:00:00Z"}}},
            "\"d\" >= '2024-03-01T00:00:00Z'",
        ),
        ({"s": {"$in": ["item 1", "item 4"]}}, "\"s\" IN ('item 1', 'item 4')"),
        ({"a": 2}, "\"a\" @> '[2]'::jsonb"),
        ({"o.nested.k": {"$lt": 2}}, "(\"o\" #>> '{nested,k}')::numeric < 2"),
    ],
)
async def test_queries_agree_between_sqlite_and_postgres(
    populated: SqliteRecordStore, pg_database: str, where: dict[str, Any], pg_condition: str
) -> None:
    apply(pg_database, await populated.export_schema("postgres"), await populated.export_data("postgres"))
    result = await populated.query("Item", QueryOptions(where=where), CallerContext.master())
    in_sqlite = sorted(obj["objectId"] for obj in result.results)
    in_postgres = sorted(
        r[0] for r in rows(pg_database, f'SELECT "objectId" FROM "Item" WHERE {pg_condition}')
    )
    assert in_sqlite == in_postgres
    assert in_sqlite


async def test_supabase_export_enforces_row_acls_through_rls(
    populated: SqliteRecordStore, pg_database: str
) -> None:
    apply(pg_database, await populated.export_schema("supabase"), await populated.export_data("supabase"))
    ann = await populated.login("ann", None, "pw")
    apply(
        pg_database, "CREATE ROLE api_user NOLOGIN", "GRANT SELECT ON ALL TABLES IN SCHEMA public TO api_user"
    )

    def visible_to(claims: dict[str, Any], table: str = "Item", column: str = "objectId") -> list[str]:
        with psycopg.connect(pg_database) as connection:
            connection.execute("SET ROLE api_user")
            connection.execute("SELECT set_config('request.jwt.claims', %s, false)", (json.dumps(claims),))
            return sorted(r[0] for r in connection.execute(f'SELECT "{column}" FROM "{table}"').fetchall())

    for caller, claims in (
        (CallerContext.anonymous(), {}),
        (await populated.caller_for_session(ann["sessionToken"]), {"sub": ann["objectId"]}),
    ):
        result = await populated.query("Item", QueryOptions(), caller)
        assert visible_to(claims) == sorted(obj["objectId"] for obj in result.results)
    assert len(visible_to({})) == 4
    assert len(visible_to({"sub": ann["objectId"]})) == 6
    unprotected = rows(
        pg_database,
        "SELECT relname FROM pg_class JOIN pg_namespace n ON n.oid = relnamespace "
        "WHERE nspname = 'public' AND relkind = 'r' AND NOT relrowsecurity",
    )
    assert unprotected == []
    assert (
        len(visible_to({}, "_Join:members:Team", "relatedId")) == 1
    )  # the owning team is public  # every exported table, join tables and _SCHEMA included, has RLS on
