"""``PostgresHistoryStore``: the execution history in the backend's PostgreSQL database (``serve
--database-url``), behind the same ``HistoryStore`` protocol as ``executions.sqlite``.

Tables are in :mod:`sidecar.history.pg_schema`. A batch is one transaction of at most three statements,
each a multi-row upsert over arrays (``unnest``), so a batch of any size costs three round trips. Queries
are the SQLite store's (``sidecar.history.query`` in the PostgreSQL dialect) and answer the same shapes.
asyncpg's and PostgreSQL's errors are translated to ``HistoryStorageError`` here.

Several replicas may record into one database: each row names its ``runner`` (this store's connections'
``application_name``), so :meth:`mark_interrupted` fails only the runs whose replica has no connection
left, never those a live replica is still recording.
"""

from __future__ import annotations

import asyncio
import re
import urllib.parse
import uuid
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

import asyncpg

from sidecar.errors import HistoryStorageError
from sidecar.history.db_read import (
    EXEC_SELECT,
    OWNERS_SQL,
    PERCENTILES,
    REPLAY_MAX_EXECUTIONS,
    STEP_SELECT,
    WHOLE_INPUT_BYTES,
    ExecutionPage,
    light_step_rows,
)
from sidecar.history.db_write import latest_by_id, recovered_metadata, step_values, storable_text
from sidecar.history.interface import LightView
from sidecar.history.pg_schema import BOOTSTRAP, BOOTSTRAP_LOCK, RUNNER_PREFIX, SEARCH_BODY
from sidecar.history.query import Dialect, ExecutionQuery, compile_filters, compile_list, encode_cursor
from sidecar.history.rows import ExecutionRow, StepRow, WriteBatch, now_ms
from sidecar.store.postgres.pool import bootstrap

T = TypeVar("T")

_EXEC_COLUMNS = list(ExecutionRow._fields)
_STEP_COLUMNS = list(StepRow._fields)
_INTEGERS = {
    "started_at",
    "completed_at",
    "duration_ms",
    "last_seq",
    "step_index",
    "run_index",
    "start_seq",
    "seq",
    "input_size",
    "output_size",
}
_IMMUTABLE = {"id", "execution_id", "workflow_id", "workflow_name", "trigger_type", "started_at"}
_MARK = re.compile(r"\?")


def redacted_url(url: str) -> str:
    """The URL without its password (statuses, answers and logs name a database, never its secret)."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def numbered(sql: str) -> str:
    """``?`` marks → ``$1``, ``$2``, … in order (``sidecar.history.query``'s terms hold no other ``?``)."""
    counter = iter(range(1, 1 << 30))
    return _MARK.sub(lambda _: f"${next(counter)}", sql)


def _phrases(text: str) -> tuple[str, list[Any]]:
    """Every word must match (each as a phrase of its own tokens), as the SQLite store's FTS5 query."""
    words = text.split()
    return "(" + " && ".join("phraseto_tsquery('simple', ?)" for _ in words) + ")", words


def _search_term(text: str) -> tuple[str, list[Any]]:
    query, words = _phrases(text)
    return f"e.seqno IN (SELECT seqno FROM execution_search WHERE document @@ {query})", words


def _search_source(text: str) -> tuple[str, list[Any]]:
    query, words = _phrases(text)
    return (
        f"execution_search s JOIN workflow_executions e ON e.seqno = s.seqno WHERE s.document @@ {query}",
        words,
    )


POSTGRES = Dialect("seqno", "ILIKE", _search_term, _search_source, numbered)


def _unnest(columns: list[str], first: int = 1) -> str:
    """``unnest($1::text[], $2::bigint[], …) AS u(col, …)``: one array parameter per column."""
    arrays = ", ".join(
        f"${first + i}::{'bigint' if c in _INTEGERS else 'text'}[]" for i, c in enumerate(columns)
    )
    return f"unnest({arrays}) AS u({', '.join(columns)})"


def _updates(columns: Iterable[str]) -> str:
    return ", ".join(f"{c} = excluded.{c}" for c in columns if c not in _IMMUTABLE)


_UPSERT_EXECUTIONS = f"""INSERT INTO workflow_executions ({", ".join(_EXEC_COLUMNS)}, runner)
    SELECT u.*, ${len(_EXEC_COLUMNS) + 1}::text FROM {_unnest(_EXEC_COLUMNS)}
    ON CONFLICT (id) DO UPDATE SET {_updates([*_EXEC_COLUMNS, "runner"])}"""
# Steps of an execution deleted meanwhile (clear, retention) are dropped rather than failing the batch.
_UPSERT_STEPS = f"""INSERT INTO execution_steps ({", ".join(_STEP_COLUMNS)})
    SELECT u.* FROM {_unnest(_STEP_COLUMNS)}
    WHERE EXISTS (SELECT 1 FROM workflow_executions w WHERE w.id = u.execution_id)
    ON CONFLICT (id) DO UPDATE SET {_updates(_STEP_COLUMNS)}"""
_UPSERT_SEARCH = f"""INSERT INTO execution_search (seqno, body)
    SELECT e.seqno, {SEARCH_BODY} FROM unnest($1::text[], $2::text[]) AS j(id, body)
    JOIN workflow_executions AS e ON e.id = j.id
    ON CONFLICT (seqno) DO UPDATE SET body = excluded.body"""

_INSERT_EXECUTION = f"""INSERT INTO workflow_executions ({", ".join(_EXEC_COLUMNS)}, runner)
    VALUES ({", ".join(f"${i + 1}" for i in range(len(_EXEC_COLUMNS) + 1))})"""
_RECOVER_FINISHED = f"""{_INSERT_EXECUTION} ON CONFLICT (id) DO UPDATE SET {_updates(_EXEC_COLUMNS)}
    WHERE workflow_executions.status = 'running'"""
_RECOVER_STARTED = f"{_INSERT_EXECUTION} ON CONFLICT (id) DO NOTHING"
_RECOVER_SEARCH = """INSERT INTO execution_search (seqno, body)
    SELECT seqno, $2 FROM workflow_executions WHERE id = $1
    ON CONFLICT (seqno) DO UPDATE SET body = excluded.body"""

_LIVE_RUNNERS = (
    f"SELECT substr(application_name, {len(RUNNER_PREFIX) + 1}) FROM pg_stat_activity "
    f"WHERE application_name LIKE '{RUNNER_PREFIX}%'"
)
_MARK_INTERRUPTED = f"""WITH dead AS (
        UPDATE workflow_executions
        SET status = 'error', completed_at = $1, duration_ms = greatest(0, $1 - started_at),
            error_message = coalesce(error_message, 'Interrupted: the backend stopped during the run'),
            metadata = (CASE WHEN jsonb_typeof(noodl_try_jsonb(metadata)) = 'object'
                             THEN noodl_try_jsonb(metadata) ELSE '{{}}'::jsonb END
                        || '{{"interrupted": true}}'::jsonb)::text
        WHERE status = 'running' AND (runner IS NULL OR runner = $2 OR runner NOT IN ({_LIVE_RUNNERS}))
        RETURNING id
    ), steps AS (
        UPDATE execution_steps
        SET status = 'error', completed_at = $1, error_message = coalesce(error_message, 'Interrupted')
        WHERE status = 'running' AND execution_id IN (SELECT id FROM dead)
        RETURNING 1
    )
    SELECT count(*) FROM dead"""

# The canvas overlay's light rows (see ``db_read.light_steps``, whose choices these are).
_LIGHT_SELECT = (
    "id, node_id, node_type, step_index, status, node_name, duration_ms,"
    f" CASE WHEN node_type IN {OWNERS_SQL} THEN CASE WHEN input_size BETWEEN 0 AND {WHOLE_INPUT_BYTES}"
    " THEN input_data ELSE (SELECT jsonb_build_object('currentIndex', j -> 'currentIndex',"
    " 'attemptNumber', j -> 'attemptNumber', 'ok', j -> 'ok')::text"
    " FROM noodl_try_jsonb(input_data) AS j WHERE j IS NOT NULL) END END,"
    f" CASE WHEN node_type IN {OWNERS_SQL} AND strpos(output_data, '\"error') > 0 THEN output_data END,"
    " error_message, run_index"
)

_FINISHED = "status != 'running'"


def _status_terms(keep_failed: bool) -> str:
    return f"{_FINISHED} AND status != 'error'" if keep_failed else _FINISHED


def pg_text(value: Any) -> Any:
    """Text PostgreSQL can store: U+FFFD for a lone surrogate (no UTF-8 form) or a NUL (refused in text)."""
    if type(value) is not str or (value.isascii() and "\x00" not in value):
        return value
    return storable_text(value).replace("\x00", "\ufffd")


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows → one list per column (the arrays ``unnest`` reads), with every text made storable."""
    if not rows:
        return [[] for _ in range(width)]
    return [[pg_text(value) for value in column] for column in zip(*rows, strict=True)]


def _count(status: str) -> int:
    """Rows a command touched, from its status tag (``DELETE 3``, ``INSERT 0 1``)."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class PostgresHistoryStore:
    def __init__(self, pool: asyncpg.Pool, runner: str, url: str) -> None:
        self._pool = pool
        self.runner = runner
        """This store's runner id, stored on the rows it writes (see the module notes)."""
        self.url = url

    @property
    def pool(self) -> asyncpg.Pool:
        """The store's connections (``pg_events`` announces on them)."""
        return self._pool

    @classmethod
    async def open(cls, url: str, *, pool_size: int = 4, runner: str | None = None) -> PostgresHistoryStore:
        """Connect to ``url`` and create the tables when missing; raises ``HistoryStorageError``."""
        runner = runner or uuid.uuid4().hex
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=1,
                max_size=pool_size,
                # Connections stay open: a runner with none left counts as gone (``mark_interrupted``).
                max_inactive_connection_lifetime=0,
                server_settings={"application_name": RUNNER_PREFIX + runner},
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise HistoryStorageError(f"cannot open the execution history on PostgreSQL: {error}") from error
        store = cls(pool, runner, url)
        try:
            await bootstrap(pool, BOOTSTRAP_LOCK, BOOTSTRAP)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            await pool.close()
            raise HistoryStorageError(f"cannot create the execution history tables: {error}") from error
        return store

    async def _run(self, work: Callable[[asyncpg.Connection], Coroutine[Any, Any, T]]) -> T:
        try:
            async with self._pool.acquire() as connection:
                return await work(connection)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise HistoryStorageError(f"execution history storage failed: {error}") from error

    async def _fetch(self, sql: str, *params: Any) -> list[asyncpg.Record]:
        async def fetch(connection: asyncpg.Connection) -> list[asyncpg.Record]:
            return list(await connection.fetch(sql, *params))

        return await self._run(fetch)

    # ---- HistoryStore: writes ------------------------------------------------------------------------
    async def write(self, batch: WriteBatch) -> None:
        executions = latest_by_id(batch.executions)
        steps = [step_values(row) for row in latest_by_id(batch.steps)]
        bodies = {text.execution_id: text.body for text in batch.search}

        async def write(connection: asyncpg.Connection) -> None:
            async with connection.transaction():
                if executions:
                    await connection.execute(
                        _UPSERT_EXECUTIONS, *_columns(executions, len(_EXEC_COLUMNS)), self.runner
                    )
                if steps:
                    await connection.execute(_UPSERT_STEPS, *_columns(steps, len(_STEP_COLUMNS)))
                if bodies:
                    await connection.execute(
                        _UPSERT_SEARCH, list(bodies), [pg_text(body) for body in bodies.values()]
                    )

        await self._run(write)

    async def recover_journaled(self, rows: list[ExecutionRow]) -> int:
        async def recover(connection: asyncpg.Connection) -> int:
            restored = 0
            async with connection.transaction():
                for row in rows:
                    values = [pg_text(v) for v in row._replace(metadata=recovered_metadata(row.metadata))]
                    finished = row.status != "running"
                    status = await connection.execute(
                        _RECOVER_FINISHED if finished else _RECOVER_STARTED, *values, self.runner
                    )
                    if _count(status) <= 0:
                        continue  # the database had it already
                    restored += 1
                    if finished:
                        await connection.execute(_RECOVER_SEARCH, row.id, pg_text(row.error_message or ""))
            return restored

        return await self._run(recover)

    async def mark_interrupted(self) -> int:
        """Runs left ``running`` by this store's runner (none at start-up) or by a runner whose replica
        has no connection left; a run another live replica is recording is left alone."""

        async def mark(connection: asyncpg.Connection) -> int:
            return int(await connection.fetchval(_MARK_INTERRUPTED, now_ms(), self.runner))

        return await self._run(mark)

    async def delete_executions(self, ids: list[str]) -> int:
        """Steps and search bodies follow by cascade; one statement."""
        if not ids:
            return 0

        async def delete(connection: asyncpg.Connection) -> int:
            return _count(await connection.execute("DELETE FROM workflow_executions WHERE id = ANY($1)", ids))

        return await self._run(delete)

    # ---- HistoryStore: reads -------------------------------------------------------------------------
    async def list_executions(self, query: ExecutionQuery) -> ExecutionPage:
        sql, params = compile_list(query, EXEC_SELECT, POSTGRES)
        found = await self._fetch(sql, *params)
        width = len(_EXEC_COLUMNS)
        rows = [ExecutionRow(*tuple(record)[:width]) for record in found]
        next_cursor = None
        if found and len(found) == query.limit:
            last = found[-1]
            next_cursor = encode_cursor(last[width + 1], last[width])
        return ExecutionPage(rows, next_cursor)

    async def get_execution(self, execution_id: str) -> ExecutionRow | None:
        found = await self._fetch(
            f"SELECT {EXEC_SELECT} FROM workflow_executions e WHERE e.id = $1", execution_id
        )
        return ExecutionRow(*found[0]) if found else None

    async def get_steps(self, execution_id: str) -> list[StepRow]:
        found = await self._fetch(
            f"SELECT {STEP_SELECT} FROM execution_steps WHERE execution_id = $1 ORDER BY step_index",
            execution_id,
        )
        return [StepRow(*record) for record in found]

    async def get_step(self, step_id: str) -> StepRow | None:
        found = await self._fetch(f"SELECT {STEP_SELECT} FROM execution_steps WHERE id = $1", step_id)
        return StepRow(*found[0]) if found else None

    async def light_view(self, execution_id: str, view: LightView[T]) -> T | None:
        """``view`` runs on a worker thread, as on the SQLite store's read thread; the readers it is given
        wait there for their query, which runs on the event loop."""
        row = await self.get_execution(execution_id)
        if row is None:
            return None
        loop = asyncio.get_running_loop()

        def steps() -> list[StepRow]:
            return asyncio.run_coroutine_threadsafe(self._light_steps(execution_id), loop).result()

        def payloads(ids: list[str]) -> dict[str, tuple[Any, Any]]:
            return asyncio.run_coroutine_threadsafe(self._payloads(ids), loop).result()

        return await asyncio.to_thread(view, row, steps, payloads)

    async def _light_steps(self, execution_id: str) -> list[StepRow]:
        found = await self._fetch(
            f"SELECT {_LIGHT_SELECT} FROM execution_steps WHERE execution_id = $1 ORDER BY step_index",
            execution_id,
        )
        return light_step_rows(execution_id, found)

    async def _payloads(self, step_ids: list[str]) -> dict[str, tuple[Any, Any]]:
        found = await self._fetch(
            "SELECT id, input_data, output_data FROM execution_steps WHERE id = ANY($1)", step_ids
        )
        return {record[0]: (record[1], record[2]) for record in found}

    async def stats(self, workflow_id: str | None) -> dict[str, object]:
        """Counts, success rate and duration figures as ``db_read.stats`` gives them; the percentiles
        are nearest-rank (``percentile_disc``), as there."""
        fractions = [fraction for _, fraction in PERCENTILES]
        found = await self._fetch(
            """SELECT count(*), count(*) FILTER (WHERE status = 'success'),
                      count(*) FILTER (WHERE status = 'error'),
                      count(*) FILTER (WHERE status = 'running'), avg(duration_ms)::float8, min(duration_ms),
                      max(duration_ms), percentile_disc($2::float8[]) WITHIN GROUP (ORDER BY duration_ms)
               FROM workflow_executions WHERE $1::text IS NULL OR workflow_id = $1""",
            workflow_id,
            fractions,
        )
        total, success, error, running, average, low, high, percentiles = found[0]
        figures: dict[str, object] = {
            "totalExecutions": total,
            "successCount": success,
            "errorCount": error,
            "runningCount": running,
            "avgDurationMs": round(average, 3) if average is not None else 0,
            "minDurationMs": low or 0,
            "maxDurationMs": high or 0,
            "successRate": round(100.0 * success / total, 2) if total else 0,
        }
        for (name, _), value in zip(PERCENTILES, percentiles or [None] * len(PERCENTILES), strict=True):
            figures[name] = value or 0
        if workflow_id is not None:
            figures["workflowId"] = workflow_id
        return figures

    async def matching_ids(self, query: ExecutionQuery, limit: int) -> list[str]:
        terms, params = compile_filters(query, dialect=POSTGRES)
        terms.append("e.status != 'running'")
        sql = numbered(
            f"SELECT e.id FROM workflow_executions e WHERE {' AND '.join(terms)} "
            "ORDER BY e.started_at LIMIT ?"
        )
        return [record[0] for record in await self._fetch(sql, *params, limit)]

    async def replay_rows(
        self, execution_id: str, workflow_id: str | None
    ) -> list[tuple[ExecutionRow, list[StepRow]]]:
        anchor = await self.get_execution(execution_id)
        if anchor is None:
            return []
        found = await self._fetch(
            f"""SELECT {EXEC_SELECT} FROM workflow_executions e
                WHERE (e.started_at >= $1 OR e.status = 'running') AND e.id != $2
                  AND ($3::text IS NULL OR e.workflow_id = $3)
                ORDER BY e.started_at, e.seqno LIMIT $4""",
            anchor.started_at,
            execution_id,
            workflow_id,
            REPLAY_MAX_EXECUTIONS,
        )
        executions = [anchor, *(ExecutionRow(*record) for record in found)]
        return [(row, await self.get_steps(row.id)) for row in executions]

    # ---- RetainedHistoryStore ------------------------------------------------------------------------
    async def older_than(self, cutoff_ms: int, *, failed: bool | None, limit: int) -> list[str]:
        status = {None: _FINISHED, True: "status = 'error'", False: _status_terms(True)}[failed]
        found = await self._fetch(
            f"SELECT id FROM workflow_executions WHERE started_at < $1 AND {status} "
            "ORDER BY started_at LIMIT $2",
            cutoff_ms,
            limit,
        )
        return [record[0] for record in found]

    async def over_count_per_workflow(self, keep: int, *, keep_failed: bool, limit: int) -> list[str]:
        found = await self._fetch(
            f"""SELECT id FROM (
                    SELECT id, started_at,
                           row_number() OVER (PARTITION BY workflow_id ORDER BY started_at DESC) AS newest
                    FROM workflow_executions WHERE {_status_terms(keep_failed)}) AS ranked
                WHERE newest > $1 ORDER BY started_at LIMIT $2""",
            keep,
            limit,
        )
        return [record[0] for record in found]

    async def over_total_count(self, keep: int, *, keep_failed: bool, limit: int) -> list[str]:
        found = await self._fetch(
            f"SELECT count(*) FROM workflow_executions WHERE {_status_terms(keep_failed)}"
        )
        return await self.oldest(min(limit, max(0, int(found[0][0]) - keep)), keep_failed=keep_failed)

    async def oldest(self, count: int, *, keep_failed: bool) -> list[str]:
        if count <= 0:
            return []
        found = await self._fetch(
            f"SELECT id FROM workflow_executions WHERE {_status_terms(keep_failed)} "
            "ORDER BY started_at LIMIT $1",
            count,
        )
        return [record[0] for record in found]

    async def used_bytes(self) -> int:
        """Bytes of the live rows. Not the relations' size on disk: PostgreSQL keeps a deleted row's space
        until (auto)vacuum, so that size would not fall as retention deletes and a byte budget would
        empty the history."""
        found = await self._fetch(
            """SELECT (SELECT coalesce(sum(pg_column_size(e.*)), 0) FROM workflow_executions e)
                    + (SELECT coalesce(sum(pg_column_size(s.*)), 0) FROM execution_steps s)
                    + (SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM execution_search t)"""
        )
        return int(found[0][0])

    async def reclaim(self, pages: int) -> int:
        """Nothing to do: PostgreSQL's autovacuum makes deleted rows' space reusable."""
        return 0

    async def close(self) -> None:
        await self._pool.close()
