"""In-process fan-out of execution events to subscribers filtered by backend and workflow.

``publish`` is synchronous and never blocks (the runtime's hot path calls it through the recorder): each
matching subscription gets the event on its bounded queue. A subscriber that falls behind is closed with
reason ``overflow``; its transport replays from the store (:mod:`sidecar.events.replay`) and subscribes
again, so a slow editor costs memory only up to its queue bound.

Subscription lifecycle: open → (closed by ``unsubscribe``: reason ``unsubscribed`` | by overflow: reason
``overflow`` | by a failing sink: reason ``failed``). Iterating a closed subscription ends after the
events queued before closing.

Latency under load. A burst of runs keeps the event loop busy for long stretches (1,000 concurrent calls:
single loop iterations of ~1 s, measured), and a subscriber that is a task of its own waits for the whole
stretch before it reads (``scripts/bench monitoring``). Two remedies:

- a *sink* subscription (``subscribe(..., sink=fn)``; the IPC door uses one) is handed each event inside
  ``publish``, so its delivery never waits for the loop, nor behind the history writer's work;
- a queued subscription *coalesces* under pressure: once ``coalesce_above`` events wait, a step event
  replaces the same execution's step event that is still waiting (``coalesced`` counts them; the skipped
  steps are in the store, and ``seq`` shows the gap). ``started`` and ``finished`` are never coalesced
  and keep their order: started → latest step → finished.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable

import structlog

from sidecar.events.model import EventKind, ExecutionEvent

DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_COALESCE_ABOVE = 500
"""Waiting events at which step events start to coalesce: a reader that far behind gains nothing from
every intermediate step, and 500 events are a few milliseconds of a reader's work."""

Sink = Callable[[ExecutionEvent], None]
"""Takes one event synchronously, inside ``publish``; must not block (the IPC door writes a frame)."""

log = structlog.get_logger()
_CLOSED = None


class _Slot:
    """A queued event; a step event's slot may be refilled with a later step of its execution."""

    __slots__ = ("event",)

    def __init__(self, event: ExecutionEvent) -> None:
        self.event = event


class Subscription:
    def __init__(
        self,
        subscription_id: str,
        backend_id: str,
        workflow_id: str | None,
        max_queue: int,
        *,
        coalesce_above: int = DEFAULT_COALESCE_ABOVE,
        sink: Sink | None = None,
    ) -> None:
        self.id = subscription_id
        self.backend_id = backend_id
        self.workflow_id = workflow_id
        self.closed_reason: str | None = None
        self.coalesced = 0
        """Step events replaced by a later step of the same execution before the reader took them."""
        self._queue: asyncio.Queue[_Slot | None] = asyncio.Queue()
        self._max_queue = max_queue
        self._coalesce_above = coalesce_above
        self._waiting_steps: dict[str, _Slot] = {}  # execution id → its step slot not yet taken
        self._sink = sink
        self.sink_failed = False

    def matches(self, event: ExecutionEvent) -> bool:
        return event.backend_id == self.backend_id and (
            self.workflow_id is None or event.workflow_id == self.workflow_id
        )

    def offer(self, event: ExecutionEvent) -> bool:
        """Deliver or queue ``event``; False when the subscriber is too far behind or its sink failed
        (the caller closes it)."""
        if self._sink is not None:
            try:
                self._sink(event)
            except Exception as error:
                log.error("execution event sink failed", subscription=self.id, error=repr(error))
                self.sink_failed = True
                return False
            return True
        queue = self._queue
        waiting = queue.qsize()
        if event.kind is EventKind.STEP:
            if waiting >= self._coalesce_above:
                slot = self._waiting_steps.get(event.execution_id)
                if slot is not None:
                    slot.event = event
                    self.coalesced += 1
                    return True
            if waiting >= self._max_queue:
                return False
            slot = _Slot(event)
            self._waiting_steps[event.execution_id] = slot
            queue.put_nowait(slot)
            return True
        if waiting >= self._max_queue:
            return False
        if event.kind is EventKind.FINISHED:
            # A later step of this run must not refill a slot queued before its finished event.
            self._waiting_steps.pop(event.execution_id, None)
        queue.put_nowait(_Slot(event))
        return True

    @property
    def waiting(self) -> int:
        """Events queued and not yet taken."""
        return self._queue.qsize()

    def take_nowait(self) -> ExecutionEvent | None:
        """The next queued event without waiting; None when nothing (or only the end) is queued."""
        if self._queue.empty():
            return None
        slot = self._queue.get_nowait()
        if slot is None:
            self._queue.put_nowait(_CLOSED)
            return None
        event = slot.event
        if event.kind is EventKind.STEP and self._waiting_steps.get(event.execution_id) is slot:
            del self._waiting_steps[event.execution_id]
        return event

    def close(self, reason: str) -> None:
        if self.closed_reason is None:
            self.closed_reason = reason
            self._queue.put_nowait(_CLOSED)

    async def next(self) -> ExecutionEvent | None:
        """The next event, or None once the subscription is closed and drained."""
        slot = await self._queue.get()
        if slot is None:
            self._queue.put_nowait(_CLOSED)  # later calls also see the end
            return None
        event = slot.event
        if event.kind is EventKind.STEP and self._waiting_steps.get(event.execution_id) is slot:
            del self._waiting_steps[event.execution_id]
        return event

    def __aiter__(self) -> AsyncIterator[ExecutionEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[ExecutionEvent]:
        while (event := await self.next()) is not None:
            yield event


class EventBus:
    """One per sidecar process; backends publish into it, IPC and SSE doors subscribe."""

    def __init__(
        self, max_queue: int = DEFAULT_QUEUE_SIZE, *, coalesce_above: int = DEFAULT_COALESCE_ABOVE
    ) -> None:
        self._subscriptions: dict[str, Subscription] = {}
        self._ids = itertools.count(1)
        self._max_queue = max_queue
        self._coalesce_above = coalesce_above
        self.listening = False
        """Whether anyone is subscribed: publishers read it for every step, before building an event."""

    def subscribe(
        self, backend_id: str, workflow_id: str | None = None, *, sink: Sink | None = None
    ) -> Subscription:
        """A queued subscription (iterate it), or with ``sink`` one that is handed each event in
        ``publish`` (see the module notes)."""
        subscription = Subscription(
            f"sub_{next(self._ids)}",
            backend_id,
            workflow_id,
            self._max_queue,
            coalesce_above=self._coalesce_above,
            sink=sink,
        )
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
            reason = "failed" if subscription.sink_failed else "overflow"
            log.warning("execution event subscriber closed", subscription=subscription.id, reason=reason)
            del self._subscriptions[subscription.id]
            self.listening = bool(self._subscriptions)
            subscription.close(reason)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)
