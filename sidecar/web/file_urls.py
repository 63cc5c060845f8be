"""File values carry their ``url`` when read, computed from the file's name as Parse Server does on
every read (the SDK's ``file.url()`` reads it); a url stored with the value is never trusted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def fill_file_urls(body: Any, url_of: Callable[[str], str]) -> None:
    """Set ``url`` on every ``{"__type": "File", "name": …}`` inside ``body`` (changed in place)."""
    pending = [body]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            name = value.get("name")
            if value.get("__type") == "File" and isinstance(name, str):
                value["url"] = url_of(name)
                continue
            pending.extend(item for item in value.values() if isinstance(item, dict | list))
        elif isinstance(value, list):
            pending.extend(item for item in value if isinstance(item, dict | list))
