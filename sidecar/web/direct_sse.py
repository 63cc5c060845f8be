"""Execution events written to an SSE client from inside ``EventBus.publish``, not from a task.

A burst of runs keeps the event loop in long iterations (1,000 concurrent calls: iterations of up to a
second); a stream handler that awaits a queue only gets to write after each of them, so its events lag by
as much. :class:`DirectStream` is a bus *sink*: each event becomes an SSE frame written to the socket's
transport at once (framed as an HTTP chunk when the response is chunked), as the IPC door writes its
notifications.

Under pressure — the client reads slower than events come, so the transport's buffer passes
``HIGH_WATER`` bytes — events go to a *backlog* (a queued :class:`~sidecar.events.bus.Subscription` that
coalesces step events per execution: a later step replaces the same execution's step still waiting;
``started`` and ``finished`` are never coalesced and keep their order). Once any event waits there, later
ones queue behind it, so the order per execution holds. The stream's handler drains the backlog as the
buffer empties. A backlog past its bound ends the stream (the client reconnects with ``Last-Event-ID``).
While a reconnecting client's replay is written, live events wait in the backlog too; an event already
replayed (same execution, seq not above) is never sent twice.
"""

from __future__ import annotations

import json
from typing import Any

from sidecar.events.bus import Subscription
from sidecar.events.model import ExecutionEvent

HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
BACKLOG_LIMIT = 10_000


def frame_of(event: ExecutionEvent) -> bytes:
    return f"id: {event.event_id}\nevent: {event.kind}\ndata: {json.dumps(event.to_wire())}\n\n".encode()


class DirectStream:
    def __init__(self, transport: Any, *, chunked: bool, backend_id: str, workflow_id: str | None) -> None:
        self._transport = transport
        self._chunked = chunked
        self.backlog = Subscription("backlog", backend_id, workflow_id, BACKLOG_LIMIT, coalesce_above=0)
        self.replaying = True
        """Until :meth:`live` is called, every event waits in the backlog (the replay goes first)."""
        self.replayed: dict[str, int] = {}
        self.overflowed = False

    def write(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if self._chunked:
            transport.write(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            transport.write(data)

    def pressed(self) -> bool:
        transport = self._transport
        return transport is not None and transport.get_write_buffer_size() > HIGH_WATER

    def offer(self, event: ExecutionEvent) -> None:
        """The bus sink: write now, or queue behind what waits."""
        if self.replaying or self.backlog.waiting or self.pressed():
            if not self.backlog.offer(event):
                self.overflowed = True
                raise OverflowError("the event stream's client is too far behind")
            return
        self._send(event)

    def _send(self, event: ExecutionEvent) -> None:
        if event.seq > self.replayed.get(event.execution_id, 0):
            self.write(frame_of(event))

    def replay(self, event: ExecutionEvent) -> None:
        if event.seq > self.replayed.get(event.execution_id, 0):
            self.replayed[event.execution_id] = event.seq
            self.write(frame_of(event))

    def live(self) -> None:
        self.replaying = False
        self.drain()

    def drain(self) -> None:
        """Write the backlog while the transport has room."""
        transport = self._transport
        while self.backlog.waiting and not (
            transport is not None and transport.get_write_buffer_size() > LOW_WATER
        ):
            event = self.backlog.take_nowait()
            if event is None:
                return
            self._send(event)
