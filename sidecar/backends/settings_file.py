"""A settings document of the backend: one JSON file in the data directory, read on every call (the
files are small and a hand edit shows at once), written atomically."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from sidecar.errors import SecurityFileError
from sidecar.jsonfile import read_json, write_json_atomic


class SettingsFile:
    def __init__(self, path: Path, default: dict[str, Any]) -> None:
        self._path = path
        self._default = default

    def read(self) -> dict[str, Any]:
        try:
            document = read_json(self._path)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SecurityFileError(str(self._path), [f"not valid JSON: {exc}"]) from exc
        if not isinstance(document, dict):
            return copy.deepcopy(self._default)  # a fresh copy the caller may change
        return {**copy.deepcopy(self._default), **document}

    def write(self, document: dict[str, Any]) -> None:
        write_json_atomic(self._path, document, mode=0o600)
