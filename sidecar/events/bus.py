"""In-process fan-out of execution events to subscribers filtered by backend and workflow.

``publish`` is synchronous and never blocks (the runtime's hot path calls it through the recorder): each
matching subscription gets the event on its bounded queue. A subscriber that falls behind is closed with
reason ``overflow``; its transport replays from the store (:mod:`sidecar.events.replay`) and subscribes
again, so a slow editor costs memory only up to its queue bound.

Subscription lifecycle: open → (closed by ``unsubscribe``: reason ``unsubscribed`` | by overflow: reason
``overflow``). Iterating a closed subscription ends after the events queued before closing.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import structlog

from sidecar.events.model import ExecutionEvent

DEFAULT_QUEUE_SIZE = 10_000

log = structlog.get_logger()
_CLOSED = None


class Subscription:
    def __init__(
        self, subscription_id: str, backend_id: str, workflow_id: str | None, max_queue: int
    ) -> None:
        self.id = subscription_id
        self.backend_id = backend_id
        self.workflow_id = workflow_id
        self.closed_reason: str | None = None
        self._queue: asyncio.Queue[ExecutionEvent | None] = asyncio.Queue()
        self._max_queue = max_queue

    def matches(self, event: ExecutionEvent) -> bool:
        return event.backend_id == self.backend_id and (
            self.workflow_id is None or event.workflow_id == self.workflow_id
        )

    def offer(self, event: ExecutionEvent) -> bool:
        """Queue ``event``; False when the subscriber is too far behind (the caller closes it)."""
        if self._queue.qsize() >= self._max_queue:
            return False
        self._queue.put_nowait(event)
        return True

    def close(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
            self._queue.put_nowait(_CLOSED)

    async def next(self) -> ExecutionEvent | None:
        """The next event, or None once the subscription is closed and drained."""
        event = await self._queue.get()
        if event is None:
            self._queue.put_nowait(_CLOSED)  # later calls also see the end
        return event

    def __aiter__(self) -> AsyncIterator[ExecutionEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[ExecutionEvent]:
        while (event := await self.next()) is not None:
            yield event


class EventBus:
    """One per sidecar process; backends publish into it, IPC and SSE doors subscribe."""

    def __init__(self, max_queue: int = DEFAULT_QUEUE_SIZE) -> None:
        self._subscriptions: dict[str, Subscription] = {}
        self._ids = itertools.count(1)
        self._max_queue = max_queue
        self.listening = False
        """Whether anyone is subscribed: publishers read it for every step, before building an event."""

    def subscribe(self, backend_id: str, workflow_id: str | None = None) -> Subscription:
        subscription = Subscription(f"sub_{next(self._ids)}", backend_id, workflow_id, self._max_queue)
        self._subscriptions[subscription.id] = subscription
        self.listening = True
        return subscription

    def unsubscribe(self, subscription_id: str) -> bool:
        """End a subscription; False when the id is unknown (already ended)."""
        subscription = self._subscriptions.pop(subscription_id, None)
        if subscription is None:
            return False
        self.listening = bool(self._subscriptions)
        subscription.close("unsubscribed")
        return True

    def publish(self, event: ExecutionEvent) -> None:
        overflowed = []
        for subscription in self._subscriptions.values():
            if subscription.matches(event) and not subscription.offer(event):
                overflowed.append(subscription)
        for subscription in overflowed:
            log.warning("execution event subscriber overflowed", subscription=subscription.id)
            del self._subscriptions[subscription.id]
            self.listening = bool(self._subscriptions)
            subscription.close("overflow")

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)
