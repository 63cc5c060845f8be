"""``/config`` parameters, kept in ``config-params.json`` (contract §2) or in memory when no file is set."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sidecar.errors import StorageError


class ConfigParams:
    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._memory: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    async def read(self) -> dict[str, Any]:
        if self._path is None:
            return dict(self._memory)
        return await asyncio.to_thread(_load, self._path)

    async def merge(self, params: Mapping[str, Any]) -> None:
        """Set each given key; a ``null`` value removes the key (as ``PUT /config`` does in Parse)."""
        async with self._lock:
            current = await self.read()
            for key, value in params.items():
                if value is None:
                    current.pop(key, None)
                else:
                    current[key] = value
            if self._path is None:
                self._memory = current
            else:
                await asyncio.to_thread(_store, self._path, current)


def _load(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise StorageError(f"cannot read {path.name}: {exc}") from exc
    return value if isinstance(value, dict) else {}


def _store(path: Path, params: dict[str, Any]) -> None:
    """Write-then-rename so a crash never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(params, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
