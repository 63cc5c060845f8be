"""Reconnect without losing a step: replay stored events after a ``Last-Event-ID``, then follow live ones.

The subscription opens *before* the replay is read, so nothing published meanwhile is missed; live events
that the replay already delivered (same execution, seq not above the replayed one) are skipped.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol

from sidecar.events.bus import EventBus
from sidecar.events.model import EventPosition, ExecutionEvent


class ReplaySource(Protocol):
    async def events_after(self, position: EventPosition, workflow_id: str | None) -> list[ExecutionEvent]:
        """Stored events after ``position``: the rest of that execution, then every later or still
        running execution (optionally of one workflow), each in seq order."""
        ...


async def replay_and_follow(
    bus: EventBus,
    source: ReplaySource,
    backend_id: str,
    *,
    workflow_id: str | None = None,
    last_event_id: str | None = None,
) -> AsyncGenerator[ExecutionEvent, None]:
    """Events for one stream (SSE): replayed ones first, then live ones, each at most once per seq.

    Raises ``InvalidHistoryQueryError`` for a malformed ``last_event_id``. Ends when the subscription is
    closed (unsubscribe or overflow; ``overflow`` means: reconnect with the last id seen)."""
    position = EventPosition.parse(last_event_id) if last_event_id else None
    subscription = bus.subscribe(backend_id, workflow_id)
    try:
        replayed: dict[str, int] = {}
        if position is not None:
            replayed[position.execution_id] = position.seq
            for event in await source.events_after(position, workflow_id):
                if event.seq > replayed.get(event.execution_id, 0):
                    replayed[event.execution_id] = event.seq
                    yield event
        async for event in subscription:
            if event.seq > replayed.get(event.execution_id, 0):
                yield event
    finally:
        bus.unsubscribe(subscription.id)
