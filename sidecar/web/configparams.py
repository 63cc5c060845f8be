"""``/config`` parameters, kept in ``config-params.json`` or in memory when no file is set."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sidecar.errors import StorageError


class ConfigParams:
    """Config parameters and, beside them, which ones only the master key may read.

    ``config-params.json`` holds the parameters alone (the file the backend contract names); the
    master-key-only flags live in ``config-params.master-key-only.json`` next to it. As in Parse
    Server, every key a ``PUT /config`` sets gets a flag (false unless ``masterKeyOnly`` says true).
    """

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._flags_path = None if path is None else path.with_name(path.stem + ".master-key-only.json")
        self._memory: dict[str, Any] = {}
        self._memory_flags: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    async def read(self) -> dict[str, Any]:
        """Every parameter, master-key-only ones included (what cloud functions see)."""
        if self._path is None:
            return dict(self._memory)
        return await asyncio.to_thread(_load, self._path)

    async def read_flags(self) -> dict[str, bool]:
        """``{name: master key only?}`` for the parameters that have a flag."""
        if self._flags_path is None:
            flags = dict(self._memory_flags)
        else:
            flags = await asyncio.to_thread(_load, self._flags_path)
        return {name: value is True for name, value in flags.items()}

    async def visible(self, is_master: bool) -> dict[str, Any]:
        """The ``GET /config`` body: ``params`` and ``masterKeyOnly`` (for the master key always, as
        the editor reads it to type the parameters; for others once a flag exists). Without the
        master key, master-key-only parameters and their flags are left out."""
        params, flags = await self.read(), await self.read_flags()
        if not is_master:
            hidden = {name for name, only in flags.items() if only}
            params = {name: value for name, value in params.items() if name not in hidden}
            flags = {name: only for name, only in flags.items() if name not in hidden}
        return {"params": params, "masterKeyOnly": flags} if flags or is_master else {"params": params}

    async def merge(self, params: Mapping[str, Any], master_only: Mapping[str, Any] | None = None) -> None:
        """Set each given key and its flag; a ``null`` value removes the key (and its flag)."""
        async with self._lock:
            current, flags = await self.read(), await self.read_flags()
            for key, value in params.items():
                if value is None:
                    current.pop(key, None)
                    flags.pop(key, None)
                else:
                    current[key] = value
                    flags[key] = bool(master_only and master_only.get(key) is True)
            if self._path is None or self._flags_path is None:
                self._memory, self._memory_flags = current, flags
            else:
                await asyncio.to_thread(_store, self._path, current)
                await asyncio.to_thread(_store, self._flags_path, flags)


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
