"""Opening SQLite connections with the pragmas and functions the store relies on."""

from __future__ import annotations

import sqlite3
from enum import Enum

from sidecar.store import sqlfuncs


class Durability(Enum):
    NORMAL = "NORMAL"
    """WAL + synchronous=NORMAL: a committed write survives a process crash (not a power cut)."""
    FULL = "FULL"
    """WAL + synchronous=FULL: also survives power loss, at the cost of an fsync per commit."""


MEMORY = ":memory:"


def open_connection(
    path: str, *, readonly: bool, durability: Durability = Durability.NORMAL
) -> sqlite3.Connection:
    """Autocommit mode (``isolation_level=None``): transactions are explicit ``BEGIN``/``COMMIT``."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    connection.row_factory = sqlite3.Row
    if path != MEMORY:
        connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={durability.value}")
    connection.execute("PRAGMA busy_timeout=10000")
    connection.execute("PRAGMA temp_store=MEMORY")
    connection.execute("PRAGMA cache_size=-16000")
    if readonly:
        connection.execute("PRAGMA query_only=1")
    elif path != MEMORY:
        # Checkpoint every ~40 MB of WAL instead of SQLite's 4 MB: a checkpoint copies each page once however
        # often it changed, so fewer of them write far less when inserts land on random index pages (UUID
        # objectIds). The WAL file is cut back to 64 MB after a checkpoint.
        connection.execute("PRAGMA wal_autocheckpoint=10000")
        connection.execute("PRAGMA journal_size_limit=67108864")
    sqlfuncs.register(connection)
    return connection
