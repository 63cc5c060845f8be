"""Group commit for one-statement creates: creates that arrive while others are being written share one
statement, so many concurrent clients cost PostgreSQL and this process one round trip, one commit and one
notification per group instead of one each.

A create that finds fewer than ``limit`` create statements in flight is sent at once, alone (a lone client
waits for nothing). Otherwise it waits in line; when a statement in flight ends, everything in line (up to
``max_rows``) goes as the next statement: one multi-row ``INSERT``, the claims of the rows'
database-change fires, and their announcements packed into as few notifications as fit, all in one
implicit transaction. Each create is answered only once that statement has committed.

PostgreSQL refuses a statement whole: when a group fails with an error of PostgreSQL's own (a duplicate
``objectId``, a value it cannot take) nothing of it was written, and its creates are sent again one by one,
so each gets its own answer. The statement timeout is every create's answer (each alone would wait as
long), and so is any other failure (the connection lost mid-statement): whether it committed is unknown,
and sending it again could write it twice.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from sidecar.store.interface import ChangeEvent
from sidecar.store.postgres import notify
from sidecar.store.postgres.pool import Database
from sidecar.store.postgres.where import RECORDS

_COLUMNS = "(class_name, object_id, created_at, updated_at, doc, rperm, wperm, secret)"
INSERT = f"INSERT INTO {RECORDS} {_COLUMNS} VALUES ($1, $2, $3, $3, $4, $5, $6, $7)"
"""A create's row (class, id, createdAt also as updatedAt, doc, rperm, wperm, secret), as the store writes
it in a transaction; a group sends the same parameters as one array each (:func:`row`)."""
_GROUP_INSERT = (
    f"INSERT INTO {RECORDS} {_COLUMNS} SELECT c, o, t, t, d::jsonb, r::text[], w::text[], s "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) "
    "AS u(c, o, t, d, r, w, s)"
)
"""One statement text for any number of rows (one prepared statement per connection). The principal lists
differ in length (no one array holds them all): they travel as array literals (:func:`_array_literal`)."""
_CHANNEL, _PAYLOADS, _FIRST_FREE = "$8", "$9", 10

Claims = Callable[[Sequence[ChangeEvent], int], "tuple[str, list[Any]] | None"]
"""The ``INSERT`` claiming the database-change fires of these events, its parameters numbered from the
given one (``ChangeClaimWriter.insert_statement``); None: no fire to claim."""


@dataclass(slots=True)
class PendingCreate:
    """One create ready to be written: its row (:func:`row`), its change events and their announcement
    text (:func:`notify.event_text`)."""

    row: tuple[Any, ...]
    events: list[ChangeEvent]
    announced: bytes
    answer: asyncio.Future[None] | None = field(default=None)


def statement(claims: str | None) -> str:
    """The group's statement: its rows (:func:`row`), the notification channel and the payloads, and
    the claims' ``INSERT`` (its parameters numbered from :data:`_FIRST_FREE`) when there is one."""
    claimed = "" if claims is None else f", claimed AS ({claims})"
    # A data-modifying WITH always runs to its end; the statement commits (or fails) as one.
    return (
        f"WITH written AS ({_GROUP_INSERT}){claimed} "
        f"SELECT pg_notify({_CHANNEL}, payload) FROM unnest({_PAYLOADS}::text[]) AS payload"
    )


def row(parameters: Sequence[Any]) -> tuple[Any, ...]:
    """A create's :data:`INSERT` parameters as its row of the group's column arrays (the document as JSON
    text, the principal lists as array literals). Raises ``orjson.JSONEncodeError`` for a document JSON
    cannot hold (a lone surrogate), before anything is sent."""
    class_name, object_id, created_at, doc, rperm, wperm, secret = parameters
    text = orjson.dumps(doc).decode()
    return class_name, object_id, created_at, text, _array_literal(rperm), _array_literal(wperm), secret


def _array_literal(items: Sequence[str] | None) -> str | None:
    """``items`` as PostgreSQL's text form of a ``text[]`` (every element quoted), None as NULL."""
    if items is None:
        return None
    quoted = ('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items)
    return "{" + ",".join(quoted) + "}"


class CreateBatches:
    """Creates of one store, grouped while others are in flight (see the module docstring)."""

    def __init__(
        self,
        pool: Database,
        origin: str,
        claims: Claims,
        committed: Callable[[list[ChangeEvent]], None],
        *,
        limit: int = 2,
        max_rows: int = 32,
    ) -> None:
        self._pool = pool
        self._origin = origin
        self._claims = claims
        self._committed = committed
        self._limit = limit
        self._max_rows = max_rows
        self._in_flight = 0
        self._waiting: collections.deque[PendingCreate] = collections.deque()
        self._flushes: set[asyncio.Task[None]] = set()

    async def write(self, create: PendingCreate) -> None:
        """Return once ``create`` has committed (its events published); raise what PostgreSQL answered
        for it (``asyncpg`` errors, for the store to translate)."""
        if self._in_flight < self._limit:  # nothing waits in line either (they would be in flight)
            self._in_flight += 1
            try:
                await self._send([create])
            finally:
                self._in_flight -= 1
                self._start_next()
            return
        create.answer = asyncio.get_running_loop().create_future()
        self._waiting.append(create)
        try:
            await create.answer
        except asyncio.CancelledError:
            if create in self._waiting:  # not sent yet: it never will be
                self._waiting.remove(create)
            raise

    def _start_next(self) -> None:
        while self._waiting and self._in_flight < self._limit:
            group = [self._waiting.popleft() for _ in range(min(self._max_rows, len(self._waiting)))]
            self._in_flight += 1
            task = asyncio.create_task(self._flush(group))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

    async def _flush(self, group: list[PendingCreate]) -> None:
        try:
            try:
                await self._send(group)
            except asyncpg.QueryCanceledError:
                raise  # the server is too slow for the group: one at a time, each would wait as long
            except asyncpg.PostgresError:
                if len(group) == 1:
                    raise
                await self._one_by_one(group)
                return
            for create in group:
                _settle(create, None)
        except BaseException as error:
            for create in group:
                _settle(create, error)
            if not isinstance(error, Exception):
                raise
        finally:
            self._in_flight -= 1
            self._start_next()

    async def _one_by_one(self, group: list[PendingCreate]) -> None:
        for index, create in enumerate(group):
            try:
                await self._send([create])
            except asyncpg.PostgresError as error:
                _settle(create, error)
            except BaseException as error:
                for left in group[index:]:
                    _settle(left, error)
                raise
            else:
                _settle(create, None)

    async def _send(self, group: list[PendingCreate]) -> None:
        """Write ``group`` in one statement, then publish its events in order."""
        events = [event for create in group for event in create.events]
        args: list[Any] = [list(column) for column in zip(*(create.row for create in group), strict=True)]
        args += [notify.CHANGES, notify.packed(self._origin, [create.announced for create in group])]
        claiming = self._claims(events, _FIRST_FREE)
        if claiming is not None:
            args += claiming[1]
        await self._pool.execute(statement(None if claiming is None else claiming[0]), *args)
        self._committed(events)

    async def close(self) -> None:
        """Wait for the groups in flight (their creates are answered)."""
        while self._flushes:
            await asyncio.gather(*self._flushes, return_exceptions=True)


def _settle(create: PendingCreate, error: BaseException | None) -> None:
    answer = create.answer
    if answer is None or answer.done():  # sent alone by its own request, or its request was cancelled
        return
    if error is None:
        answer.set_result(None)
    else:
        answer.set_exception(error)
