"""Live events under load: a sink subscriber gets events inside ``publish``; a queued subscriber that is
far behind gets step events coalesced per execution, with started → steps → finished kept in order; IPC
frames leave during a long loop iteration instead of at its end."""

from __future__ import annotations

import asyncio
import time

from sidecar.events import EventBus, EventKind, ExecutionEvent
from sidecar.events.bus import Subscription
from sidecar.ipc.transport import FrameWriter

BACKEND = "backend_live"


def event(kind: EventKind, execution: str, seq: int) -> ExecutionEvent:
    return ExecutionEvent(kind, BACKEND, execution, "wf", seq, {})


def run_events(execution: str, steps: int) -> list[ExecutionEvent]:
    kinds = [EventKind.STARTED, *[EventKind.STEP] * steps, EventKind.FINISHED]
    return [event(kind, execution, seq) for seq, kind in enumerate(kinds, start=1)]


async def drain(bus: EventBus, subscription: Subscription) -> list[ExecutionEvent]:
    bus.unsubscribe(subscription.id)  # what was queued before is still read, then the end
    return [item async for item in subscription]


async def test_a_sink_subscriber_gets_each_event_inside_publish() -> None:
    bus = EventBus()
    received: list[ExecutionEvent] = []
    bus.subscribe(BACKEND, sink=received.append)
    bus.subscribe("backend_elsewhere", sink=received.append)
    for item in run_events("exec_a", 2):
        bus.publish(item)
        assert received[-1] is item  # already delivered: no task had to run
    assert [e.seq for e in received] == [1, 2, 3, 4]


async def test_a_failing_sink_is_closed_and_others_keep_receiving() -> None:
    bus = EventBus()

    def broken(_event: ExecutionEvent) -> None:
        raise RuntimeError("pipe gone")

    failing = bus.subscribe(BACKEND, sink=broken)
    healthy: list[ExecutionEvent] = []
    bus.subscribe(BACKEND, sink=healthy.append)
    bus.publish(event(EventKind.STARTED, "exec_a", 1))
    bus.publish(event(EventKind.FINISHED, "exec_a", 2))
    assert failing.closed_reason == "failed"
    assert [e.seq for e in healthy] == [1, 2]
    assert bus.subscriber_count == 1


async def test_under_pressure_steps_coalesce_per_execution_and_started_finished_stay_in_order() -> None:
    bus = EventBus(coalesce_above=10)
    subscription = bus.subscribe(BACKEND)
    runs = {f"exec_{n}": run_events(f"exec_{n}", 30) for n in range(20)}
    # Interleaved, as concurrent runs publish; nobody reads meanwhile.
    for index in range(32):
        for events in runs.values():
            bus.publish(events[index])
    got = await drain(bus, subscription)
    assert subscription.coalesced > 0
    assert len(got) < 20 * 32
    for execution, events in runs.items():
        mine = [e for e in got if e.execution_id == execution]
        assert mine[0].kind is EventKind.STARTED
        assert mine[-1].kind is EventKind.FINISHED
        assert [e.kind for e in mine].count(EventKind.FINISHED) == 1
        seqs = [e.seq for e in mine]
        assert seqs == sorted(seqs)  # in order; coalesced steps show as gaps in seq
        # The last step before finished is the run's latest step: nothing newer was dropped.
        assert mine[-2].seq == events[-2].seq


async def test_no_coalescing_while_the_reader_keeps_up() -> None:
    bus = EventBus()
    subscription = bus.subscribe(BACKEND)
    events = run_events("exec_a", 50)
    for item in events:
        bus.publish(item)
    assert [e.seq for e in await drain(bus, subscription)] == [e.seq for e in events]
    assert subscription.coalesced == 0


class _Transport(asyncio.WriteTransport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass


def busy_stretch(writer: FrameWriter) -> int:
    """One long synchronous stretch of 0.2 s that writes a frame every 5 ms, as a burst of runs does."""
    written = 0
    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline:
        writer.write(b"x")
        written += 1
        time.sleep(0.005)
    return written


async def test_frames_leave_during_a_long_loop_iteration() -> None:
    writer = FrameWriter(asyncio.get_running_loop())
    transport = _Transport()
    writer.connection_made(transport)
    written = busy_stretch(writer)
    assert len(transport.writes) >= 5  # sent every ~10 ms rather than once when the stretch ends
    await asyncio.sleep(0)  # the loop's turn: the rest leaves, nothing twice
    assert b"".join(transport.writes) == b"x" * written
