"""``noodl-sidecar doctor``: open a backend's persistence without binding a port, creating nothing.

A directory with no database yet is reported as such (``serve`` would create one there), with
whether it could be; doctor never makes the file, its folders or the directory itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sidecar.backends.backend import ENGINE, PersistenceUnavailableError


async def check_persistence(data_dir: Path, *, ephemeral: bool) -> dict[str, Any]:
    from sidecar.store import SqliteRecordStore

    path = data_dir / "data" / "local.db"
    if not ephemeral and not path.exists():
        return _absent(path)
    try:
        store = await (
            SqliteRecordStore.open(None, ephemeral=True) if ephemeral else SqliteRecordStore.open(path)
        )
        classes = len(await store.list_schemas())
        await store.close()
    except Exception as exc:  # every failure is the report, never a traceback
        error = PersistenceUnavailableError(f"{type(exc).__name__}: {exc}")
        return {
            "ok": False,
            "persistence": {"mode": "failed", "engine": None, "path": str(path)},
            "error": {"code": PersistenceUnavailableError.code, "message": error.message},
        }
    return {
        "ok": True,
        "persistence": {
            "mode": "ephemeral" if ephemeral else "persistent",
            "engine": ENGINE,
            "path": None if ephemeral else str(path),
            "exists": not ephemeral,
            "classes": classes,
        },
        "error": None,
    }


def _absent(path: Path) -> dict[str, Any]:
    """The report for a database that does not exist yet: fine if serve could create it."""
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not (ancestor.is_dir() and os.access(ancestor, os.W_OK | os.X_OK)):
        error = PersistenceUnavailableError(f"no database at {path}, and {ancestor} is not writable")
        return {
            "ok": False,
            "persistence": {"mode": "failed", "engine": None, "path": str(path), "exists": False},
            "error": {"code": PersistenceUnavailableError.code, "message": error.message},
        }
    return {
        "ok": True,
        "persistence": {
            "mode": "persistent",
            "engine": ENGINE,
            "path": str(path),
            "exists": False,
            "classes": 0,
        },
        "note": "no database yet: serve creates it here",
        "error": None,
    }
