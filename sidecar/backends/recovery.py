"""Giving a backend on its memory fallback its database back: check the file, or move it aside.

A backend whose SQLite file cannot be used runs in memory (``sidecar.backends.backend``); the
editor offers the user these actions from its banner:

- ``check``: ``PRAGMA integrity_check`` on the file, opened read-only (so a check never changes
  it), and whether its folder can be written;
- ``start-fresh``: the file and its ``-wal``/``-shm`` companions renamed to
  ``local.db.bad-<UTC time>`` beside it (kept, never deleted), then the backend restarted on a
  new empty database.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sidecar.errors import RequestFailedError

COMPANIONS = ("", "-wal", "-shm", "-journal")


class RecoveryRefusedError(RequestFailedError):
    code = "PERSISTENCE_RECOVERY_REFUSED"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, data={"code": self.code})


def check_database(path: Path) -> dict[str, Any]:
    """What is wrong with the database file, without writing to it (run in a thread: it reads it all)."""
    folder = path.parent
    report: dict[str, Any] = {
        "path": str(path),
        "exists": path.exists(),
        "folderWritable": folder.is_dir() and os.access(folder, os.W_OK | os.X_OK),
        "ok": False,
        "problems": [],
    }
    if not report["exists"]:
        report["problems"] = ["no database file"]
        return report
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1)
        try:
            rows = connection.execute("PRAGMA integrity_check").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        report["problems"] = [f"{type(exc).__name__}: {exc}"]
        return report
    problems = [str(row[0]) for row in rows if row and row[0] != "ok"]
    report["problems"] = problems
    report["ok"] = not problems and report["folderWritable"]
    if not report["folderWritable"]:
        report["problems"] = [*problems, f"{folder} is not writable"]
    return report


def move_aside(path: Path) -> Path | None:
    """Rename the database and its companions to ``<name>.bad-<time>``; None when there was no file."""
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.bad-{stamp}")
    try:
        for suffix in COMPANIONS:
            source = path.with_name(path.name + suffix)
            if source.exists():
                source.rename(path.with_name(target.name + suffix))
    except OSError as exc:
        raise RecoveryRefusedError(f"cannot move {path} aside: {exc.strerror or exc}") from exc
    return target
