"""The backend's time zone: ``TZ`` when set, else the machine's zone (``/etc/localtime``), else UTC."""

from __future__ import annotations

import os
from datetime import UTC, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_ZONEINFO_MARKER = "zoneinfo/"


def local_zone() -> tzinfo:
    for name in (os.environ.get("TZ", "").lstrip(":"), _etc_localtime_name()):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return UTC


def _etc_localtime_name() -> str:
    try:
        target = str(Path("/etc/localtime").resolve())
    except OSError:
        return ""
    index = target.find(_ZONEINFO_MARKER)
    return target[index + len(_ZONEINFO_MARKER) :] if index >= 0 else ""
