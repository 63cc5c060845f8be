"""``/admin/search``: which collections are searchable, on which fields (``search.json``).

The configuration is validated against the collection's real columns and stored faithfully. This
backend has no full-text index engine yet: enabling or rebuilding a collection's index stores the
setting and then answers 503 saying so, rather than reporting an index that does not exist.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sidecar.backends import data
from sidecar.backends.settings_file import SettingsFile
from sidecar.errors import FeatureUnavailableError, InvalidParamsError

NO_INDEX = (
    "The search setting is stored, but this backend has no full-text index engine yet; queries do not use it."
)


def _fts5_available() -> bool:
    with sqlite3.connect(":memory:") as probe:
        options = {row[0] for row in probe.execute("PRAGMA compile_options")}
    return "ENABLE_FTS5" in options


class SearchSettings:
    def __init__(self, data_dir: Path, store: Any) -> None:
        self._file = SettingsFile(data_dir / "search.json", {"version": 1, "collections": {}})
        self._store = store

    def config(self) -> dict[str, Any]:
        return {"config": self._file.read(), "fts5Available": _fts5_available(), "indexing": False}

    async def put_collection(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        if name.startswith("_"):
            raise InvalidParamsError("System collections cannot carry a search config.")
        enabled = body.get("enabled") is not False
        raw_fields = body.get("fields")
        fields = [str(f) for f in raw_fields] if isinstance(raw_fields, list) else []
        if enabled and not fields:
            raise InvalidParamsError("At least one field is required to enable search.")
        table = await data.get_table_schema(self._store, name)
        columns = {column["name"] for column in table["columns"]} if table else set()
        unknown = [f for f in fields if f not in columns]
        if enabled and unknown:
            raise InvalidParamsError(
                f'Unknown column(s) for "{name}": {", ".join(unknown)}. Create the field(s) first.'
            )
        entry: dict[str, Any] = {"enabled": enabled, "fields": fields}
        if isinstance(body.get("tokenizer"), str):
            entry["tokenizer"] = body["tokenizer"]
        document = self._file.read()
        document["collections"] = {**document.get("collections", {}), name: entry}
        self._file.write(document)
        if enabled:
            raise FeatureUnavailableError(NO_INDEX, data={"collection": name, "config": entry})
        return {"success": True, "collection": name, "config": entry}

    def delete_collection(self, name: str) -> dict[str, Any]:
        document = self._file.read()
        collections = dict(document.get("collections", {}))
        removed = collections.pop(name, None) is not None
        document["collections"] = collections
        self._file.write(document)
        return {"success": True, "collection": name, "removed": removed}

    def rebuild(self, name: str) -> dict[str, Any]:
        entry = self._file.read().get("collections", {}).get(name)
        if not isinstance(entry, dict) or not entry.get("enabled"):
            raise InvalidParamsError(f'Search is not enabled for "{name}".')
        raise FeatureUnavailableError(NO_INDEX, data={"collection": name})
