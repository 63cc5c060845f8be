"""``doctor`` looks and reports; it never creates a database, a folder or any other file."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from tests.cli.helpers import run_sidecar


def _listing(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def _doctor(data_dir: Path) -> tuple[int, dict[str, Any]]:
    done = run_sidecar("doctor", "--data-dir", str(data_dir))
    [line] = done.stdout.splitlines()
    report: dict[str, Any] = json.loads(line)
    return done.returncode, report


async def _make_database(path: Path) -> None:
    from sidecar.store import SqliteRecordStore

    path.parent.mkdir(parents=True)
    store = await SqliteRecordStore.open(path)
    await store.close()


def test_an_empty_directory_is_reported_as_having_no_database_and_stays_empty(tmp_path: Path) -> None:
    code, report = _doctor(tmp_path)

    assert _listing(tmp_path) == []
    assert code == 0
    assert report["ok"] is True
    assert report["persistence"]["exists"] is False
    assert report["persistence"]["path"] == str(tmp_path / "data" / "local.db")
    assert "no database" in report["note"]


def test_a_missing_directory_is_not_created(tmp_path: Path) -> None:
    code, report = _doctor(tmp_path / "nowhere" / "backend")

    assert os.listdir(tmp_path) == []
    assert code == 0
    assert report["persistence"]["exists"] is False


def test_an_existing_database_is_opened_and_left_as_it_was(tmp_path: Path) -> None:
    asyncio.run(_make_database(tmp_path / "data" / "local.db"))
    before = _listing(tmp_path)
    assert "data/local.db" in before

    code, report = _doctor(tmp_path)

    assert code == 0
    assert report["persistence"]["exists"] is True
    assert report["persistence"]["classes"] >= 1
    assert _listing(tmp_path) == before
