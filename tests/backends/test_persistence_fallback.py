"""A backend whose database cannot be used starts in memory, says so, and can be given a new file."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest

from sidecar.backends.manager import BackendManager
from sidecar.ipc.handlers import register_backend_methods
from tests.channels import Channels, backend_manager


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[BackendManager]:
    async with backend_manager(tmp_path) as managed:
        yield managed


def _starts_with_garbage(path: Path) -> bool:
    return path.read_bytes().startswith(b"this is not a database")


async def test_a_corrupt_file_falls_back_to_memory_and_start_fresh_recovers(manager: BackendManager) -> None:
    channels = Channels(register_backend_methods, manager)
    backend_id = str(manager.create("Corrupt")["id"])
    database = manager.registry.data_dir(backend_id) / "data" / "local.db"
    database.parent.mkdir(parents=True, exist_ok=True)
    database.write_bytes(b"this is not a database" * 200)

    started = await channels("backend:start", backend_id)
    persistence = started["persistence"]
    assert started["running"] is True
    assert persistence["mode"] == "memory-fallback"
    assert (persistence["persistent"], persistence["ephemeral"]) == (False, True)
    assert persistence["reason"]["code"] == "PERSISTENCE_ENGINE_UNAVAILABLE"
    assert "not a database" in persistence["reason"]["message"]
    assert persistence["path"] == str(database)
    assert persistence["recovery"] == ["check", "start-fresh"]
    assert (await channels("backend:status", backend_id))["persistence"] == persistence
    async with aiohttp.ClientSession() as session, session.get(f"{started['endpoint']}/health") as response:
        health = await response.json()
    assert health["persistence"]["mode"] == "memory-fallback"
    # It serves meanwhile, from memory.
    await channels("backend:createRecord", backend_id, "Note", {"text": "kept in memory"})

    checked = await channels("backend:recover-persistence", backend_id, {"action": "check"})
    assert checked["check"]["ok"] is False
    assert checked["check"]["problems"]
    assert _starts_with_garbage(database)  # a check changes nothing

    fresh = await channels("backend:recover-persistence", backend_id, {"action": "start-fresh"})
    moved = Path(fresh["movedTo"])
    assert moved.parent == database.parent
    assert moved.name.startswith("local.db.bad-")
    assert _starts_with_garbage(moved)
    assert fresh["status"]["persistence"]["mode"] == "persistent"
    await channels("backend:createRecord", backend_id, "Note", {"text": "kept on disk"})
    await manager.stop(backend_id)
    await manager.start(backend_id)
    page = await channels("backend:queryRecords", backend_id, {"collection": "Note"})
    assert [r["text"] for r in page["results"]] == ["kept on disk"]


async def test_start_fresh_is_refused_for_a_healthy_backend(manager: BackendManager) -> None:
    channels = Channels(register_backend_methods, manager)
    backend_id = str(manager.create("Fine")["id"])
    started = await channels("backend:start", backend_id)
    assert started["persistence"]["mode"] == "persistent"
    assert started["persistence"].get("reason") is None
    checked = await channels("backend:recover-persistence", backend_id, {"action": "check"})
    assert checked["check"] == {
        "path": str(manager.registry.data_dir(backend_id) / "data" / "local.db"),
        "exists": True,
        "folderWritable": True,
        "ok": True,
        "problems": [],
    }
    with pytest.raises(Exception, match="not on its memory fallback"):
        await channels("backend:recover-persistence", backend_id, {"action": "start-fresh"})


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """The folder cannot be written, by us either: its mode for a user, the immutable attribute for
    root (who writes through any mode); skipped where neither is possible."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        try:
            yield
        finally:
            folder.chmod(0o700)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False).returncode != 0:
        pytest.skip("running as root on a file system without the immutable attribute")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True, check=False)


async def test_a_read_only_database_folder_serves_from_memory_and_says_so(manager: BackendManager) -> None:
    channels = Channels(register_backend_methods, manager)
    backend_id = str(manager.create("ReadOnly")["id"])
    folder = manager.registry.data_dir(backend_id) / "data"
    folder.mkdir(parents=True, exist_ok=True)
    with read_only(folder):
        started = await channels("backend:start", backend_id)
        assert started["persistence"]["mode"] == "memory-fallback"
        assert started["persistence"]["reason"]["code"] == "PERSISTENCE_ENGINE_UNAVAILABLE"
        async with aiohttp.ClientSession() as session, session.get(f"{started['endpoint']}/health") as got:
            assert (await got.json())["persistence"]["mode"] == "memory-fallback"
        created = await channels("backend:createRecord", backend_id, "Note", {"text": "in memory"})
        assert created["text"] == "in memory"
        checked = await channels("backend:recover-persistence", backend_id, {"action": "check"})
        assert checked["check"]["folderWritable"] is False
        # Nothing to move aside while the folder stays read-only: it restarts, and says it is still in memory.
        again = await channels("backend:recover-persistence", backend_id, {"action": "start-fresh"})
        assert again["movedTo"] is None
        assert again["status"]["persistence"]["mode"] == "memory-fallback"
        await manager.stop(backend_id)
    assert list(folder.iterdir()) == []
