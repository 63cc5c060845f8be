"""Self-test: exercise every native extension and library the process needs.

A frozen build that misses a module or a shared library fails here, with the name of
what is missing, instead of at the first user action that needs it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    ok: bool
    ms: float
    detail: str


def _check_msgpack() -> str:
    import msgpack
    from msgpack import _cmsgpack  # the C extension; the pure fallback would be ~10x slower

    value = {"bytes": b"\x00\xff", "big": 2**60, "list": [1.5, None, True]}
    if msgpack.unpackb(msgpack.packb(value)) != value:
        raise AssertionError("msgpack round trip changed the value")
    return f"msgpack {'.'.join(map(str, msgpack.version))} ({_cmsgpack.__name__})"


def _check_pydantic() -> str:
    import pydantic
    import pydantic_core

    class Probe(pydantic.BaseModel):
        count: int

    if Probe.model_validate({"count": "3"}).count != 3:
        raise AssertionError("pydantic coercion failed")
    return f"pydantic {pydantic.VERSION}, pydantic-core {pydantic_core.__version__}"


def _check_sqlite() -> str:
    import sqlite3

    with sqlite3.connect(":memory:") as db:
        db.execute("CREATE VIRTUAL TABLE probe USING fts5(body)")
        db.execute("INSERT INTO probe VALUES ('noodl sidecar')")
        hits = db.execute("SELECT count(*) FROM probe WHERE probe MATCH 'sidecar'").fetchone()[0]
        extracted = db.execute("SELECT json_extract('{\"a\": [1, 2]}', '$.a[1]')").fetchone()[0]
    if hits != 1 or extracted != 2:
        raise AssertionError("FTS5 or JSON1 missing from SQLite")
    return f"SQLite {sqlite3.sqlite_version} with FTS5 and JSON1"


def _check_croniter() -> str:
    from datetime import UTC, datetime

    from croniter import croniter

    after = datetime(2026, 1, 1, tzinfo=UTC)
    if croniter("*/5 * * * *", after).get_next(datetime) != datetime(2026, 1, 1, 0, 5, tzinfo=UTC):
        raise AssertionError("croniter gave the wrong next time")
    return "croniter ok"


def _check_quickjs() -> str:
    import quickjs  # type: ignore[import-untyped]  # the engine Expression and Function nodes run in

    context = quickjs.Context()
    if context.eval("[1, 2, 3].map(x => x * 2).join(',')") != "2,4,6":
        raise AssertionError("QuickJS evaluated a script wrongly")
    return "QuickJS ok"


def _check_cryptography() -> str:
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # the credential store's cipher

    key, nonce = AESGCM.generate_key(bit_length=256), os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, b"credential", b"name")
    if AESGCM(key).decrypt(nonce, sealed, b"name") != b"credential":
        raise AssertionError("AES-GCM did not round-trip")
    return "AES-GCM ok"


def _check_zoneinfo() -> str:
    from zoneinfo import ZoneInfo

    ZoneInfo("Europe/Stockholm")
    return "time zone database ok"


async def _check_aiosqlite() -> str:
    import aiosqlite

    async with aiosqlite.connect(":memory:") as db, db.execute("SELECT 40 + 2") as cursor:
        row = await cursor.fetchone()
    if row is None or row[0] != 42:
        raise AssertionError("aiosqlite query failed")
    return f"aiosqlite {aiosqlite.__version__}"


async def _check_aiohttp() -> str:
    import aiohttp
    from aiohttp import web

    async def hello(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as client, client.get(f"http://127.0.0.1:{port}/") as reply:
            body = await reply.json()
    finally:
        await runner.cleanup()
    if body != {"ok": True}:
        raise AssertionError("aiohttp loopback request failed")
    return f"aiohttp {aiohttp.__version__} served and fetched on loopback"


Check = Callable[[], Awaitable[str]]


def _threaded(check: Callable[[], str]) -> Check:
    async def run() -> str:
        return await asyncio.to_thread(check)

    return run


CHECKS: tuple[tuple[str, Check], ...] = (
    ("msgpack", _threaded(_check_msgpack)),
    ("pydantic-core", _threaded(_check_pydantic)),
    ("sqlite3", _threaded(_check_sqlite)),
    ("croniter", _threaded(_check_croniter)),
    ("zoneinfo", _threaded(_check_zoneinfo)),
    ("quickjs", _threaded(_check_quickjs)),
    ("cryptography", _threaded(_check_cryptography)),
    ("aiosqlite", _check_aiosqlite),
    ("aiohttp", _check_aiohttp),
)


async def run_selftest(on_step: Callable[[str, int, int], None] | None = None) -> list[CheckOutcome]:
    """Run every check; ``on_step(name, index, total)`` is told before each one starts."""
    outcomes = []
    for index, (name, check) in enumerate(CHECKS):
        if on_step is not None:
            on_step(name, index, len(CHECKS))
        started = time.perf_counter()
        try:
            detail, ok = await check(), True
        except Exception as exc:  # each failure is reported by name, never raised
            detail, ok = f"{type(exc).__name__}: {exc}", False
        outcomes.append(CheckOutcome(name, ok, round((time.perf_counter() - started) * 1000, 3), detail))
    return outcomes
