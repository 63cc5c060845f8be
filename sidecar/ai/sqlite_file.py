"""One short SQLite session on a private (0600) database file of the backend's AI data."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sidecar.private_files import private_database, private_dir


@contextmanager
def session(path: Path, schema: str) -> Iterator[sqlite3.Connection]:
    """Open ``path`` (creating it and its folder privately), make sure ``schema`` exists, commit on
    success, roll back on error, and always close."""
    private_dir(path.parent)
    connection = sqlite3.connect(private_database(path), timeout=5.0)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(schema)
        with connection:
            yield connection
    finally:
        connection.close()
