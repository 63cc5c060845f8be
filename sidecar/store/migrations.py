"""Named data migrations of ``local.db``, applied once each when the store opens.

Recorded by name in ``_StoreMigrations`` (not a class: it has no ``_Schema`` entry, so no route, export or
query reaches it). Each runs inside the opening job's transaction, so a crash leaves it unapplied and
the next open runs it again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

from sidecar.store import sessions
from sidecar.store.codec import now_iso

TABLE = "_StoreMigrations"


@dataclass(frozen=True)
class Migration:
    name: str
    apply: Callable[[sqlite3.Connection], object]


MIGRATIONS: tuple[Migration, ...] = (Migration(sessions.MIGRATION_NAME, sessions.digest_stored_tokens),)


def migrate(connection: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet recorded; returns the names applied now."""
    connection.execute(
        f'CREATE TABLE IF NOT EXISTS "{TABLE}" (name TEXT PRIMARY KEY, appliedAt TEXT NOT NULL)'
    )
    done = {row[0] for row in connection.execute(f'SELECT name FROM "{TABLE}"')}
    applied = []
    for migration in MIGRATIONS:
        if migration.name in done:
            continue
        migration.apply(connection)
        connection.execute(
            f'INSERT INTO "{TABLE}" (name, appliedAt) VALUES (?, ?)', (migration.name, now_iso())
        )
        applied.append(migration.name)
    return applied
