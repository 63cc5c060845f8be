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
    path: str,
    *,
    readonly: bool,
    durability: Durability = Durability.NORMAL,
    busy_timeout: float = 10.0,
) -> sqlite3.Connection:
    """Autocommit mode (``isolation_level=None``): transactions are explicit ``BEGIN``/``COMMIT``.
    ``busy_timeout``: seconds a statement waits for a lock another connection holds (then SQLITE_BUSY)."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=busy_timeout)
    connection.row_factory = sqlite3.Row
    if path != MEMORY:
        connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={durability.value}")
    connection.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
    connection.execute("PRAGMA temp_store=MEMORY")
    connection.execute("PRAGMA cache_size=-16000")
    if readonly:
        connection.execute("PRAGMA query_only=1")
    elif path != MEMORY:
        # No automatic checkpoint: it runs inside the COMMIT that crosses its threshold and holds that write
        # for the whole copy. The store checkpoints off the write path (see checkpointer.py). The WAL file is
        # cut back to 64 MB when the log starts over.
        connection.execute("PRAGMA wal_autocheckpoint=0")
        connection.execute("PRAGMA journal_size_limit=67108864")
    sqlfuncs.register(connection)
    return connection
