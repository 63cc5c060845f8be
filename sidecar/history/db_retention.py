"""Retention selections (plus a byte budget): which finished executions to prune next.

Each function returns at most ``limit`` ids, oldest first, never a ``running`` row; the caller deletes
them in their own small transaction and asks again, so no write lock is held for long.
"""

from __future__ import annotations

import sqlite3

_FINISHED = "status != 'running'"


def _status_terms(keep_failed: bool) -> str:
    return f"{_FINISHED} AND status != 'error'" if keep_failed else _FINISHED


def older_than(
    connection: sqlite3.Connection, cutoff_ms: int, *, failed: bool | None, limit: int
) -> list[str]:
    """Finished executions started before ``cutoff_ms``: all (None), only failed (True), or all but failed."""
    status = {None: _FINISHED, True: "status = 'error'", False: _status_terms(True)}[failed]
    rows = connection.execute(
        f"SELECT id FROM workflow_executions WHERE started_at < ? AND {status} ORDER BY started_at LIMIT ?",
        (cutoff_ms, limit),
    )
    return [row[0] for row in rows]


def over_count_per_workflow(
    connection: sqlite3.Connection, keep: int, *, keep_failed: bool, limit: int
) -> list[str]:
    """Executions beyond the ``keep`` newest of their workflow."""
    ids: list[str] = []
    workflows = [row[0] for row in connection.execute("SELECT DISTINCT workflow_id FROM workflow_executions")]
    for workflow_id in workflows:
        rows = connection.execute(
            f"""SELECT id FROM workflow_executions WHERE workflow_id = ? AND {_status_terms(keep_failed)}
                ORDER BY started_at DESC LIMIT ? OFFSET ?""",
            (workflow_id, limit - len(ids), keep),
        )
        ids.extend(row[0] for row in rows)
        if len(ids) >= limit:
            break
    return ids


def over_total_count(
    connection: sqlite3.Connection, keep: int, *, keep_failed: bool, limit: int
) -> list[str]:
    total = connection.execute(
        f"SELECT count(*) FROM workflow_executions WHERE {_status_terms(keep_failed)}"
    ).fetchone()[0]
    return oldest(connection, min(limit, max(0, total - keep)), keep_failed=keep_failed)


def oldest(connection: sqlite3.Connection, count: int, *, keep_failed: bool) -> list[str]:
    if count <= 0:
        return []
    rows = connection.execute(
        f"SELECT id FROM workflow_executions WHERE {_status_terms(keep_failed)} ORDER BY started_at LIMIT ?",
        (count,),
    )
    return [row[0] for row in rows]


def used_bytes(connection: sqlite3.Connection) -> int:
    """Bytes the database occupies, not counting free pages (those are reused or vacuumed away)."""
    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    free = connection.execute("PRAGMA freelist_count").fetchone()[0]
    return int((pages - free) * page_size)


def free_pages(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA freelist_count").fetchone()[0])
