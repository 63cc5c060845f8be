"""The change bus across processes: every replica's committed changes reach every other replica.

A write transaction announces its events with ``pg_notify`` inside the transaction, so PostgreSQL delivers
them at commit and never for a rollback. A notification carries at most 8,000 bytes: a larger announcement is
written to ``noodl_change_log`` in the same transaction and the notification carries its id, which the
receivers read back. Announcements name their origin replica; a replica skips its own (it delivered those
locally already). Received announcements are handled one at a time, in arrival order (which is commit
order), by one task, so a fetched large payload never overtakes a later small one.

A schema change is announced on its own channel; receivers read the schemas again before any change
announced after it. Other parts of a replica may listen on channels of their own on the same connection
(:meth:`Listener.add_channel`); their handlers are called with ``None`` after a reconnection, when
announcements may have been missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import orjson
import structlog

from sidecar.store.interface import ChangeAction, ChangeEvent

log = structlog.get_logger()

CHANGES = "noodl_changes"
SCHEMAS = "noodl_schema_changed"
MAX_PAYLOAD = 7_900
"""Bytes of a notification payload (PostgreSQL's limit is 8,000 including the channel)."""
_LOST = ""
"""Queued when the LISTEN connection ends (no channel has an empty name)."""
LOG_KEEP = timedelta(minutes=5)
"""How long a large announcement stays in ``noodl_change_log`` for slow receivers."""

BOOTSTRAP = (
    "CREATE TABLE IF NOT EXISTS noodl_change_log (id bigserial PRIMARY KEY, payload jsonb NOT NULL, "
    "created_at timestamptz NOT NULL DEFAULT now())",
)


def new_replica_id() -> str:
    return uuid.uuid4().hex


def event_text(origin: str, events: Sequence[ChangeEvent]) -> bytes | None:
    """``events`` as they are listed in an announcement, when one announcement of them alone fits a
    notification (:func:`packed` joins several such texts), else None."""
    body = b",".join(orjson.dumps(event.to_wire()) for event in events)
    return body if _HEAD + len(origin) + len(body) <= MAX_PAYLOAD else None


_HEAD = len(b'{"o":"","e":[]}')


def pack(origin: str, bodies: Iterable[bytes]) -> list[bytes]:
    """``{"o": origin, "e": [...]}`` payloads holding the JSON ``bodies`` in order, as few as fit in
    ``MAX_PAYLOAD`` bytes each; a body too large to share one stands in a payload of its own, which is
    then over the limit (the caller decides what to send instead)."""
    head = b'{"o":"' + origin.encode() + b'","e":['
    payloads: list[bytes] = []
    current: list[bytes] = []
    size = len(head) + 2
    for body in bodies:
        if current and size + 1 + len(body) > MAX_PAYLOAD:
            payloads.append(head + b",".join(current) + b"]}")
            current, size = [], len(head) + 2
        size += len(body) + (1 if current else 0)
        current.append(body)
    if current:
        payloads.append(head + b",".join(current) + b"]}")
    return payloads


def packed(origin: str, texts: Sequence[bytes]) -> list[str]:
    """Notification payloads announcing ``texts`` (from :func:`event_text`) in order, as few as fit."""
    return [payload.decode() for payload in pack(origin, texts)]


async def announce(
    connection: asyncpg.Connection, origin: str, events: Sequence[ChangeEvent], schema_changed: bool
) -> None:
    """Inside the write's transaction: queue the announcements PostgreSQL sends at commit."""
    if schema_changed:
        await connection.execute("SELECT pg_notify($1, $2)", SCHEMAS, origin)
    if not events:
        return
    body = orjson.dumps({"o": origin, "e": [event.to_wire() for event in events]}).decode()
    if len(body.encode()) <= MAX_PAYLOAD:
        await connection.execute("SELECT pg_notify($1, $2)", CHANGES, body)
        return
    entry = await connection.fetchval(
        "WITH old AS (DELETE FROM noodl_change_log WHERE created_at < now() - $2::interval) "
        "INSERT INTO noodl_change_log (payload) VALUES ($1::jsonb) RETURNING id",
        body,
        LOG_KEEP,
    )
    await connection.execute(
        "SELECT pg_notify($1, $2)", CHANGES, orjson.dumps({"o": origin, "id": entry}).decode()
    )


def _events(payload: Any) -> list[ChangeEvent]:
    return [
        ChangeEvent(ChangeAction(wire["action"]), wire["collection"], wire["id"], wire["record"])
        for wire in payload.get("e", [])
    ]


class Listener:
    """One connection LISTENing for other replicas' announcements."""

    def __init__(
        self,
        url: str,
        origin: str,
        on_events: Callable[[list[ChangeEvent]], None],
        on_schema_change: Callable[[], Awaitable[None]],
        fetch_logged: Callable[[int], Awaitable[Any]],
    ) -> None:
        self._url = url
        self._origin = origin
        self._on_events = on_events
        self._on_schema_change = on_schema_change
        self._fetch_logged = fetch_logged
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._connection: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._channels: dict[str, Callable[[str | None], Awaitable[None]]] = {}

    async def add_channel(self, channel: str, handler: Callable[[str | None], Awaitable[None]]) -> None:
        """Also LISTEN on ``channel``: ``handler`` gets each payload, in order with the other channels."""
        self._channels[channel] = handler
        if self._connection is not None:
            await self._connection.add_listener(channel, self._received)

    async def start(self) -> None:
        await self._connect()
        self._task = asyncio.create_task(self._run())

    async def _connect(self) -> None:
        connection = await asyncpg.connect(self._url)
        await connection.add_listener(CHANGES, self._received)
        await connection.add_listener(SCHEMAS, self._received)
        for channel in self._channels:
            await connection.add_listener(channel, self._received)
        connection.add_termination_listener(self._lost)
        self._connection = connection

    def _received(self, _connection: Any, _pid: int, channel: str, payload: str) -> None:
        self._queue.put_nowait((channel, payload))

    def _lost(self, _connection: Any) -> None:
        self._queue.put_nowait((_LOST, ""))

    async def _reconnect(self) -> None:
        """The server closed the LISTEN connection (a restart, a terminated backend): listen again, then
        read the schemas again. Announcements made while it was away are not delivered."""
        delay = 0.2
        while True:
            try:
                await self._connect()
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("store.listen_reconnect_failed", error=str(error), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            log.info("store.listen_reconnected")
            await self._on_schema_change()
            for handler in list(self._channels.values()):
                await handler(None)
            return

    async def _run(self) -> None:
        while True:
            channel, payload = await self._queue.get()
            if channel == _LOST:
                await self._reconnect()
                continue
            try:
                await self._handle(channel, payload)
            except Exception:  # one bad announcement must not stop the bus
                log.exception("store.remote_change_failed", channel=channel)

    async def _handle(self, channel: str, payload: str) -> None:
        own = self._channels.get(channel)
        if own is not None:
            await own(payload)
            return
        if channel == SCHEMAS:
            if payload != self._origin:
                await self._on_schema_change()
            return
        announced = orjson.loads(payload)
        if announced.get("o") == self._origin:
            return
        if "id" in announced:
            announced = await self._fetch_logged(int(announced["id"]))
            if announced is None:  # expired before we read it: nothing to deliver
                return
        self._on_events(_events(announced))

    @property
    def backend_pid(self) -> int | None:
        """The server process of the LISTEN connection (tests end it to check the reconnection)."""
        return None if self._connection is None else int(self._connection.get_server_pid())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._connection is not None:
            self._connection.remove_termination_listener(self._lost)
            await self._connection.close()
