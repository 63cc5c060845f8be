"""The realtime hub: connected SSE clients, their subscriptions, and fan-out of committed changes.

The store calls :meth:`RealtimeHub.publish` after each commit (never for a rolled-back write). Each
client has a bounded queue; a client too slow to drain it loses the queued frames and gets one
``resync {reason: "overflow"}`` instead, so a stalled browser tab cannot grow the process's memory.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sidecar.errors import InvalidParamsError, InvalidQueryError, RouteNotFoundError, StoreError
from sidecar.store import CallerContext, ChangeEvent, JsonObject, QueryOptions, RecordStore
from sidecar.web.realtime.filter import FilterTimeoutError, Predicate, UnsupportedFilterError, compile_filter

_USER_SECRETS = ("password", "sessionToken", "authData")
MAX_SUBSCRIPTIONS = 100
"""Per client: every change is matched against its subscribers' filters on the event loop, so one client
must not be able to make that work unbounded."""

RecordView = Callable[[str, JsonObject, CallerContext], JsonObject | None]
"""The store's :meth:`RecordStore.visible_record`: a change record as a subscriber may see it, or None."""


@dataclass(frozen=True)
class Frame:
    event: str
    data: str
    """JSON text."""


def frame(event: str, data: Mapping[str, Any]) -> Frame:
    return Frame(event, json.dumps(data, separators=(",", ":"), ensure_ascii=False))


def owns_session(caller: CallerContext, record: Mapping[str, Any]) -> bool:
    """``_Session`` changes reach their owner (and master) only, whatever the row's ACL, as reads do."""
    user = record.get("user")
    return caller.is_master or (isinstance(user, Mapping) and user.get("objectId") == caller.user_id)


def presented(caller: CallerContext, event: ChangeEvent, record: JsonObject) -> dict[str, Any]:
    """The change frame's data around ``record`` (as the store lets the caller see it); other users'
    ``_User`` secrets and email never reach a non-master."""
    if event.class_name == "_User" and not caller.is_master:
        hidden = _USER_SECRETS if record.get("objectId") == caller.user_id else (*_USER_SECRETS, "email")
        record = {key: value for key, value in record.items() if key not in hidden}
    return {**event.to_wire(), "record": record}


class RealtimeClient:
    def __init__(self, client_id: str, caller: CallerContext, queue_size: int) -> None:
        self.client_id = client_id
        self.caller = caller
        self.subscriptions: dict[str, list[Predicate]] = {}
        self._queue: asyncio.Queue[Frame | None] = asyncio.Queue(queue_size)

    def offer(self, item: Frame) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self._replace_queue(frame("resync", {"reason": "overflow"}))

    def end(self) -> None:
        """Make the stream finish (server shutdown)."""
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:
            self._replace_queue(None)

    def _replace_queue(self, item: Frame | None) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(item)

    async def next_frame(self, idle_seconds: float) -> Frame | None:
        """The next frame; ``None`` at the end; raises ``TimeoutError`` when it is time for a heartbeat."""
        async with asyncio.timeout(idle_seconds):
            return await self._queue.get()


class RealtimeHub:
    def __init__(self, queue_size: int, view: RecordView) -> None:
        self._queue_size = queue_size
        self._view = view
        self._clients: dict[str, RealtimeClient] = {}

    def connect(self, caller: CallerContext) -> RealtimeClient:
        client = RealtimeClient(secrets.token_urlsafe(16), caller, self._queue_size)
        self._clients[client.client_id] = client
        return client

    def disconnect(self, client: RealtimeClient) -> None:
        self._clients.pop(client.client_id, None)

    def client(self, client_id: Any) -> RealtimeClient:
        found = self._clients.get(client_id) if isinstance(client_id, str) else None
        if found is None:
            raise RouteNotFoundError(f"Unknown realtime client: {client_id}")
        return found

    def end_all(self) -> None:
        for client in list(self._clients.values()):
            client.end()

    def publish(self, event: ChangeEvent) -> None:
        """The store's change listener: a frame to every subscriber that may find the row now (the
        class's current permissions and the row's ACL, as a query would decide) and whose filter matches
        what it may see of it (a filter on a protected field never matches)."""
        shared: Frame | None = None
        for client in list(self._clients.values()):
            tests = client.subscriptions.get(event.class_name)
            if not tests:
                continue
            if event.class_name == "_Session" and not owns_session(client.caller, event.record):
                continue
            record = self._view(event.class_name, event.record, client.caller)
            if record is None or not _matches(client, tests, record):
                continue
            if record is not event.record or (event.class_name == "_User" and not client.caller.is_master):
                client.offer(frame("change", presented(client.caller, event, record)))
                continue
            if shared is None:
                shared = frame("change", presented(client.caller, event, record))
            client.offer(shared)


def _matches(client: RealtimeClient, tests: list[Predicate], record: JsonObject) -> bool:
    """Whether a filter of the client matches; a filter that ran out of time ends all of the client's
    subscriptions (it is told to ``resync``), so it cannot hold the loop again on the next change."""
    try:
        return any(test(record) for test in tests)
    except FilterTimeoutError:
        client.subscriptions = {}
        client.offer(frame("resync", {"reason": "filter-timeout"}))
        return False


async def replace_subscriptions(
    client: RealtimeClient, requested: Any, store: RecordStore
) -> dict[str, list[Any]]:
    """Replace the whole subscription set; each collection is gated by its *find* permission."""
    if requested is None:
        requested = []
    if not isinstance(requested, Sequence) or isinstance(requested, str):
        raise InvalidParamsError("subscriptions must be an array")
    if len(requested) > MAX_SUBSCRIPTIONS:
        raise InvalidQueryError(f"a realtime client may hold at most {MAX_SUBSCRIPTIONS} subscriptions")
    accepted: list[Any] = []
    rejected: list[dict[str, Any]] = []
    chosen: dict[str, list[Predicate]] = {}
    for spec in requested:
        collection = spec.get("collection") if isinstance(spec, Mapping) else None
        reason = await _refusal(spec, collection, client.caller, store)
        if reason is not None or not isinstance(collection, str):
            rejected.append({"collection": collection, "reason": reason})
            continue
        chosen.setdefault(collection, []).append(compile_filter(spec.get("filter")))
        accepted.append(dict(spec))
    client.subscriptions = chosen
    return {"accepted": accepted, "rejected": rejected}


async def _refusal(spec: Any, collection: Any, caller: CallerContext, store: RecordStore) -> str | None:
    if not isinstance(spec, Mapping) or not isinstance(collection, str) or not collection:
        return "collection must be a class name"
    where = spec.get("filter")
    if isinstance(where, Mapping) and "$relatedTo" in where:
        return "$relatedTo filters are not supported"
    try:
        compile_filter(where)
        await store.query(collection, QueryOptions(limit=0), caller)
    except UnsupportedFilterError as exc:
        return str(exc)
    except StoreError as exc:
        return exc.message
    return None
