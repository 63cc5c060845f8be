"""Live execution events across replicas: a run's events reach the backend's subscribers on every replica
sharing the PostgreSQL database, whichever replica ran it.

The same approach as the record store's change bus (``sidecar.store.postgres.notify``):

- each replica hands its own runs' events (started, step, finished; a paused test run stays local: only
  its replica can continue it) to PostgreSQL with ``pg_notify``, several events per notification, in the
  order they were published, from one task;
- a notification carries at most 7,900 bytes; a larger event is written to ``noodl_history_event_log``
  and the notification carries its id, which receivers read back (kept five minutes);
- a notification names its origin; a replica skips its own (its subscribers had them from its bus);
- received events are published on the local bus one at a time, in arrival order, by one task, so a
  fetched large event never overtakes a later small one. They are published as this backend's events
  (replicas of one backend may run under different ids).

Events are live only: a subscriber that missed some replays them from the shared history tables, as on
one process. A lost LISTEN connection is made again; what was announced meanwhile is not delivered live.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import asyncpg
import orjson
import structlog

from sidecar.errors import HistoryStorageError
from sidecar.events import EventBus, EventKind, ExecutionEvent
from sidecar.history.pg_schema import RUNNER_PREFIX
from sidecar.history.postgres_store import PostgresHistoryStore
from sidecar.store.postgres import notify

log = structlog.get_logger()

CHANNEL = "noodl_history_events"
MAX_PAYLOAD = notify.MAX_PAYLOAD
LOG_KEEP = timedelta(minutes=5)
_RELAYED = frozenset({EventKind.STARTED, EventKind.STEP, EventKind.FINISHED})
_IDS = ("backendId", "executionId", "workflowId", "seq")
_LOST = None


def _encoded(event: ExecutionEvent) -> bytes:
    return orjson.dumps({"k": event.kind.value, "w": event.to_wire()})


def payloads(origin: str, events: list[ExecutionEvent]) -> list[bytes | tuple[bytes]]:
    """``events`` packed in order into notification payloads of at most ``MAX_PAYLOAD`` bytes; an event
    too large for one on its own comes as a 1-tuple of its whole payload (to be logged, sent by id)."""
    packed = notify.pack(origin, (_encoded(event) for event in events))
    return [(payload,) if len(payload) > MAX_PAYLOAD else payload for payload in packed]


def decode(backend_id: str, wire: dict[str, Any]) -> ExecutionEvent:
    """One announced event, as this backend's."""
    fields = wire["w"]
    data = {key: value for key, value in fields.items() if key not in _IDS}
    return ExecutionEvent(
        EventKind(wire["k"]), backend_id, fields["executionId"], fields["workflowId"], fields["seq"], data
    )


class EventRelay:
    """Sends this replica's events and publishes the other replicas' on the local bus."""

    def __init__(self, store: PostgresHistoryStore, bus: EventBus, backend_id: str) -> None:
        self._store = store
        self._bus = bus
        self._backend_id = backend_id
        self._origin = store.runner
        self._outgoing: list[ExecutionEvent] = []
        self._wake = asyncio.Event()
        self._incoming: asyncio.Queue[str | None] = asyncio.Queue()
        self._relaying = False
        self._connection: asyncpg.Connection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._subscription_id: str | None = None
        self._closing = False

    @classmethod
    async def start(cls, store: PostgresHistoryStore, bus: EventBus, backend_id: str) -> EventRelay:
        """Listen and start relaying; raises ``HistoryStorageError`` when the server cannot be used."""
        relay = cls(store, bus, backend_id)
        try:
            await relay._listen()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise HistoryStorageError(f"cannot listen for other replicas' runs: {error}") from error
        relay._subscription_id = bus.subscribe(backend_id, sink=relay._offer).id
        relay._tasks = [
            asyncio.create_task(relay._send_loop(), name="history-events-send"),
            asyncio.create_task(relay._receive_loop(), name="history-events-receive"),
        ]
        return relay

    async def _listen(self) -> None:
        connection = await asyncpg.connect(
            self._store.url, server_settings={"application_name": RUNNER_PREFIX + self._store.runner}
        )
        await connection.add_listener(CHANNEL, self._received)
        connection.add_termination_listener(self._lost)
        self._connection = connection

    # ---- outgoing --------------------------------------------------------------------------------------
    def _offer(self, event: ExecutionEvent) -> None:
        """The bus's sink (inside ``publish``): queue this replica's own events, cheaply."""
        if self._relaying or event.kind not in _RELAYED:
            return
        self._outgoing.append(event)
        self._wake.set()

    async def _send_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            events, self._outgoing = self._outgoing, []
            try:
                await self._send(events)
            except Exception as error:  # a failed send loses live events only; history has the runs
                log.warning("history.events_send_failed", error=str(error), events=len(events))

    async def _send(self, events: list[ExecutionEvent]) -> None:
        async with self._store.pool.acquire() as connection:
            for payload in payloads(self._origin, events):
                if isinstance(payload, tuple):
                    entry = await connection.fetchval(
                        "WITH old AS (DELETE FROM noodl_history_event_log"
                        " WHERE created_at < now() - $2::interval)"
                        " INSERT INTO noodl_history_event_log (payload) VALUES ($1) RETURNING id",
                        payload[0].decode(),
                        LOG_KEEP,
                    )
                    text = orjson.dumps({"o": self._origin, "id": entry}).decode()
                else:
                    text = payload.decode()
                await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, text)

    async def flush(self) -> None:
        """Send what is queued now (close; tests)."""
        events, self._outgoing = self._outgoing, []
        if events:
            await self._send(events)

    # ---- incoming --------------------------------------------------------------------------------------
    def _received(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self._incoming.put_nowait(payload)

    def _lost(self, _connection: Any) -> None:
        if not self._closing:
            self._incoming.put_nowait(_LOST)

    async def _receive_loop(self) -> None:
        while True:
            payload = await self._incoming.get()
            if payload is _LOST:
                await self._reconnect()
                continue
            try:
                await self._deliver(payload)
            except Exception:  # one bad announcement must not stop the relay
                log.exception("history.events_receive_failed")

    async def _deliver(self, payload: str) -> None:
        announced = orjson.loads(payload)
        if announced.get("o") == self._origin:
            return
        if "id" in announced:
            logged = await self._store.pool.fetchval(
                "SELECT payload FROM noodl_history_event_log WHERE id = $1", int(announced["id"])
            )
            if logged is None:  # expired before we read it
                return
            announced = orjson.loads(logged)
        self._relaying = True  # our own sink must not send them back
        try:
            for wire in announced.get("e", []):
                self._bus.publish(decode(self._backend_id, wire))
        finally:
            self._relaying = False

    async def _reconnect(self) -> None:
        delay = 0.2
        while True:
            try:
                await self._listen()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("history.events_listen_reconnect_failed", error=str(error), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            log.info("history.events_listen_reconnected")
            return

    async def close(self) -> None:
        self._closing = True
        if self._subscription_id is not None:
            self._bus.unsubscribe(self._subscription_id)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            await self.flush()
        if self._connection is not None:
            self._connection.remove_termination_listener(self._lost)
            await self._connection.close()
