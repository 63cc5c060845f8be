"""Live execution events: an in-process bus with per-execution sequence numbers and stored replay.

Transport-free: the IPC door turns subscriptions into ``execution:*`` notifications, the HTTP door into
``GET /executions/stream`` (SSE with ``Last-Event-ID``)::

    bus = EventBus()
    subscription = bus.subscribe(backend_id, workflow_id)      # IPC execution:subscribe → subscription.id
    async for event in subscription: notify(event.kind, event.to_wire())
    bus.unsubscribe(subscription.id)                           # IPC execution:unsubscribe

    async for event in replay_and_follow(bus, history, backend_id, last_event_id=...):  # SSE
        send(id=event.event_id, event=event.kind, data=event.to_wire())
"""

from __future__ import annotations

from sidecar.events.bus import EventBus, Subscription
from sidecar.events.model import EventKind, EventPosition, ExecutionEvent
from sidecar.events.replay import ReplaySource, replay_and_follow

__all__ = [
    "EventBus",
    "EventKind",
    "EventPosition",
    "ExecutionEvent",
    "ReplaySource",
    "Subscription",
    "replay_and_follow",
]
