"""Records export and import through their doors: the IPC channels (with $/progress) and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sidecar.backends.manager import BackendManager
from sidecar.ipc.handlers import register_backend_methods
from tests.channels import Channels, backend_manager

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[BackendManager]:
    async with backend_manager(tmp_path / "home") as managed:
        yield managed


async def test_export_then_import_over_ipc_with_progress(manager: BackendManager, tmp_path: Path) -> None:
    channels = Channels(register_backend_methods, manager, progress_token="t1")
    source, target = (str(manager.create(name)["id"]) for name in ("Source", "Target"))
    for backend_id in (source, target):
        await manager.start(backend_id, ephemeral=True)
    for index in range(5):
        await channels("backend:createRecord", source, "Item", {"n": index, "label": f"item {index}"})

    exported = await channels("backend:export-data", source, {"format": "jsonl", "classes": ["Item"]})
    assert exported["counts"] == {"Item": 5}
    assert exported["bytes"] == len(exported["content"].encode())
    written = await channels(
        "backend:export-data",
        source,
        {"format": "jsonl", "classes": ["Item"], "path": str(tmp_path / "x.jsonl")},
    )
    assert written["content"] is None
    assert (tmp_path / "x.jsonl").stat().st_mode & 0o777 == 0o600

    dry = await channels(
        "backend:import-data", target, {"format": "jsonl", "content": exported["content"], "dryRun": True}
    )
    assert (dry["dryRun"], dry["accepted"], dry["rejectedCount"]) == (True, 5, 0)
    assert dry["newFields"] == {"Item": {"label": "String", "n": "Number"}}
    assert (await channels("backend:getRecordCount", target, "Item")) == 0
    channels.sent.clear()
    done = await channels(
        "backend:import-data", target, {"format": "jsonl", "path": str(tmp_path / "x.jsonl")}
    )
    assert (done["accepted"], done["rejectedCount"]) == (5, 0)
    kinds = [params[0]["value"]["kind"] for method, params in channels.sent if method == "$/progress"]
    assert kinds[0] == "begin"
    assert kinds[-1] == "end"
    assert "report" in kinds
    source_rows = await channels("backend:queryRecords", source, {"collection": "Item", "limit": 100})
    target_rows = await channels("backend:queryRecords", target, {"collection": "Item", "limit": 100})
    assert sorted(source_rows["results"], key=lambda r: r["objectId"]) == sorted(
        target_rows["results"], key=lambda r: r["objectId"]
    )
    with pytest.raises(Exception, match="not both or neither"):
        await channels("backend:import-data", target, {"format": "jsonl"})
    with pytest.raises(Exception, match="no such class"):
        await channels("backend:export-data", source, {"format": "jsonl", "classes": ["Nope"]})


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sidecar", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=60,
        env={**os.environ},
        check=False,
    )


async def test_cli_export_and_import(manager: BackendManager, tmp_path: Path) -> None:
    backend_id = str(manager.create("Cli")["id"])
    await manager.start(backend_id)
    channels = Channels(register_backend_methods, manager)
    await channels("backend:createRecord", backend_id, "Item", {"n": 1})
    await manager.stop(backend_id)
    data_dir = manager.registry.data_dir(backend_id)

    exported = _cli("export", str(data_dir), "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert lines[0]["type"] == "header"
    assert [
        line["record"]["n"] for line in lines if line["type"] == "record" and line["className"] == "Item"
    ] == [1]
    (tmp_path / "items.jsonl").write_text(exported.stdout, encoding="utf-8")

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    imported = _cli("import", str(fresh), str(tmp_path / "items.jsonl"))
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["accepted"] == len(
        [line for line in lines if line["type"] == "record"]
    )
    again = _cli("import", str(fresh), str(tmp_path / "items.jsonl"), "--dry-run")
    assert again.returncode == 1
    assert json.loads(again.stdout)["rejectedCount"] >= 1
    sql = _cli("export", str(fresh), "--format", "postgres", "--class", "Item")
    assert sql.returncode == 0
    assert 'INSERT INTO "Item"' in sql.stdout
    missing = _cli("import", str(fresh), str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
    assert missing.stdout == ""
