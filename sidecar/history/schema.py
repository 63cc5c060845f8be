"""``executions.sqlite`` schema: the contract's tables plus our additions, as named migrations.

Additions to the contract, all invisible to the editor's panel:

- ``workflow_executions.last_seq`` and ``execution_steps.start_seq`` / ``seq``: the per-execution event
  sequence, so a reconnecting editor can replay every event of a run from the stored rows;
- ``execution_steps.run_index``: which run of that node this is (nodes run several times per execution);
- ``input_size`` / ``output_size``: byte sizes of the payloads before truncation, sent with previews;
- ``execution_search``: an FTS5 index over each finished execution's error text and step output previews
  (rowid = the execution's rowid);
- ``idx_executions_status`` also orders by ``started_at``, so a status filter stays index-ordered.

Two contract indexes are left out because each is a leading prefix of another contract index and so
serves no query the longer one does not, while costing every insert: ``idx_executions_workflow``
(covered by ``idx_executions_workflow_started``) and ``idx_steps_execution`` (covered by
``idx_steps_execution_order``).

Migrations are recorded by name in ``history_migrations`` and applied each in its own transaction.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    name: str
    statements: tuple[str, ...]


_CREATE_TABLES = Migration(
    "0001_contract_tables",
    (
        """CREATE TABLE workflow_executions (
            id TEXT PRIMARY KEY,
            workflow_id TEXT NOT NULL,
            workflow_name TEXT NOT NULL,
            trigger_type TEXT NOT NULL,
            trigger_data TEXT,
            status TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            completed_at INTEGER,
            duration_ms INTEGER,
            error_message TEXT,
            error_stack TEXT,
            metadata TEXT,
            last_seq INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE execution_steps (
            id TEXT PRIMARY KEY,
            execution_id TEXT NOT NULL REFERENCES workflow_executions(id) ON DELETE CASCADE,
            node_id TEXT NOT NULL,
            node_type TEXT NOT NULL,
            node_name TEXT,
            step_index INTEGER NOT NULL,
            started_at INTEGER NOT NULL,
            completed_at INTEGER,
            duration_ms INTEGER,
            status TEXT NOT NULL,
            input_data TEXT,
            output_data TEXT,
            error_message TEXT,
            run_index INTEGER NOT NULL DEFAULT 0,
            start_seq INTEGER NOT NULL DEFAULT 0,
            seq INTEGER NOT NULL DEFAULT 0,
            input_size INTEGER NOT NULL DEFAULT 0,
            output_size INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX idx_executions_status ON workflow_executions(status, started_at DESC)",
        "CREATE INDEX idx_executions_started ON workflow_executions(started_at DESC)",
        "CREATE INDEX idx_executions_workflow_started ON workflow_executions(workflow_id, started_at DESC)",
        "CREATE INDEX idx_steps_node ON execution_steps(node_id)",
        "CREATE INDEX idx_steps_execution_order ON execution_steps(execution_id, step_index)",
        """CREATE VIEW old_executions AS
            SELECT id, workflow_id, started_at, status,
                   CAST(strftime('%s', 'now') AS INTEGER) * 1000 - started_at AS age_ms
            FROM workflow_executions ORDER BY started_at ASC""",
    ),
)

_ADD_SEARCH = Migration(
    "0002_search",
    ("CREATE VIRTUAL TABLE execution_search USING fts5(body, tokenize = 'unicode61')",),
)

MIGRATIONS: tuple[Migration, ...] = (_CREATE_TABLES, _ADD_SEARCH)


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (rollback on error); connections run with ``isolation_level=None``."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def connect(path: str) -> sqlite3.Connection:
    """A configured connection in autocommit mode (transactions are explicit, see :func:`transaction`)."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    configure(connection)
    return connection


def configure(connection: sqlite3.Connection) -> None:
    """Per-connection settings; WAL with ``synchronous=NORMAL`` keeps every commit across a process kill."""
    # Takes effect only on a new file (before the first page is written); lets retention hand pages
    # back in small steps. The reference runs with auto_vacuum = none.
    connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.execute("PRAGMA busy_timeout = 5000")
    connection.execute("PRAGMA cache_size = -16000")  # 16 MB: the recent end of every index stays cached
    # Checkpoint every ~16 MB of WAL rather than 4 MB: each checkpoint copies a page once however often it
    # changed, and step rows rewrite the same last pages of the tables and indexes batch after batch.
    connection.execute("PRAGMA wal_autocheckpoint = 4000")


def migrate(connection: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet recorded; returns the names applied now."""
    connection.execute(
        "CREATE TABLE IF NOT EXISTS history_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)"
    )
    done = {row[0] for row in connection.execute("SELECT name FROM history_migrations")}
    applied = []
    for migration in MIGRATIONS:
        if migration.name in done:
            continue
        with transaction(connection):
            for statement in migration.statements:
                connection.execute(statement)
            connection.execute(
                "INSERT INTO history_migrations (name, applied_at) VALUES (?, ?)",
                (migration.name, int(time.time() * 1000)),
            )
        applied.append(migration.name)
    return applied
