"""The write-ahead log is copied back off the write path, stays bounded under steady creates, and a reader
holding an old snapshot never holds up a write."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from sidecar.store import CallerContext, QueryOptions, SqliteRecordStore
from sidecar.store.sqlite.checkpointer import CheckpointConfig
from sidecar.store.sqlite.connection import open_connection

MASTER = CallerContext.master()
WAL_FRAME_BYTES = 4096 + 24  # a page and its frame header


def checkpointer_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "store-checkpointer")


def test_the_writer_connection_never_checkpoints_inside_a_commit(tmp_path: Path) -> None:
    connection = open_connection(str(tmp_path / "local.db"), readonly=False)
    try:
        assert connection.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    finally:
        connection.close()


async def test_the_log_stays_bounded_under_steady_creates(tmp_path: Path) -> None:
    creates = 5_000
    config = CheckpointConfig(wrap_frames=50, interval=0.01)
    store = await SqliteRecordStore.open(tmp_path / "local.db", checkpoints=config)
    try:
        for i in range(creates):
            await store.create("Item", {"n": i}, MASTER)
        wal_bytes = (tmp_path / "local.db-wal").stat().st_size
    finally:
        await store.close()
    # Each create appends ~5 pages: a log that never started over would hold ~25,000 frames (100 MB). Here
    # it starts over after each pass of the checkpointer, every 10 ms plus scheduling delays (6-12 MB seen).
    assert wal_bytes < creates * WAL_FRAME_BYTES


async def test_records_survive_many_log_restarts_and_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "local.db"
    store = await SqliteRecordStore.open(path, checkpoints=CheckpointConfig(wrap_frames=20, interval=0.01))
    try:
        for i in range(600):
            await store.create("Item", {"n": i, "name": f"item {i}"}, MASTER)
    finally:
        await store.close()
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        check.close()
    reopened = await SqliteRecordStore.open(path)
    try:
        assert await reopened.count("Item", {}, MASTER) == 600
        found = await reopened.query("Item", QueryOptions(where={"n": 599}), MASTER)
        assert [record["name"] for record in found.results] == ["item 599"]
    finally:
        await reopened.close()


async def test_close_stops_the_checkpointer_thread(tmp_path: Path) -> None:
    before = checkpointer_threads()
    store = await SqliteRecordStore.open(tmp_path / "local.db")
    assert checkpointer_threads() == before + 1
    await store.create("Item", {"n": 1}, MASTER)
    await store.close()
    assert checkpointer_threads() == before


async def test_an_ephemeral_store_has_no_checkpointer() -> None:
    before = checkpointer_threads()
    store = await SqliteRecordStore.open(None, ephemeral=True)
    try:
        assert checkpointer_threads() == before
    finally:
        await store.close()


async def test_a_reader_holding_an_old_snapshot_does_not_hold_up_writes(tmp_path: Path) -> None:
    """A RESTART or FULL checkpoint would wait for this reader while holding the write lock."""
    path = tmp_path / "local.db"
    store = await SqliteRecordStore.open(path, checkpoints=CheckpointConfig(wrap_frames=20, interval=0.01))
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        await store.create("Item", {"n": -1}, MASTER)
        reader.execute("BEGIN")
        assert reader.execute('SELECT count(*) FROM "Item"').fetchone()[0] == 1  # the snapshot is now held
        slowest = 0.0
        for i in range(300):
            started = time.perf_counter()
            await store.create("Item", {"n": i}, MASTER)
            slowest = max(slowest, time.perf_counter() - started)
        assert slowest < 2.0
        reader.execute("COMMIT")
    finally:
        reader.close()
        await store.close()
