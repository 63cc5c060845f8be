"""``noodl-sidecar doctor``: open a backend's persistence without binding a port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sidecar.backends.backend import ENGINE, PersistenceUnavailableError


async def check_persistence(data_dir: Path, *, ephemeral: bool) -> dict[str, Any]:
    from sidecar.store import SqliteRecordStore

    path = data_dir / "data" / "local.db"
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
            "classes": classes,
        },
        "error": None,
    }
