"""Live events: per-execution seq, filtered subscriptions, previews not payloads, replay after reconnect."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sidecar.errors import InvalidHistoryQueryError
from sidecar.events import EventBus, EventKind, ExecutionEvent, replay_and_follow
from sidecar.history import ExecutionHistory
from sidecar.runtime import Runtime, make_request
from tests.history.graphs import condition_then_function

BACKEND = "backend_test"


def drain(queue_events: list[ExecutionEvent]) -> list[tuple[str, Any, Any]]:
    return [(e.kind, e.data.get("nodeId"), e.data.get("status")) for e in queue_events]


async def collect(subscription_iter: Any, count: int) -> list[ExecutionEvent]:
    events: list[ExecutionEvent] = []
    async with asyncio.timeout(2):
        async for event in subscription_iter:
            events.append(event)
            if len(events) == count:
                break
    return events


async def run_greet(history: ExecutionHistory, body: dict[str, Any] | None = None) -> str:
    recorder = history.recorder_for()
    assert recorder is not None
    await Runtime.from_export(condition_then_function()).run(
        "greet", make_request(body or {"flag": True, "name": "Ada"}), recorder=recorder
    )
    assert recorder.execution_id is not None
    return recorder.execution_id


async def test_a_run_streams_started_steps_and_finished_with_increasing_seq(
    history: ExecutionHistory, bus: EventBus
) -> None:
    subscription = bus.subscribe(BACKEND, "greet")
    execution_id = await run_greet(history)
    bus.unsubscribe(subscription.id)
    events = [event async for event in subscription]

    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].kind == EventKind.STARTED
    assert events[-1].kind == EventKind.FINISHED
    assert events[-1].data["status"] == "success"
    assert {e.execution_id for e in events} == {execution_id}
    wire = events[-1].to_wire()
    assert (wire["backendId"], wire["executionId"], wire["seq"]) == (BACKEND, execution_id, len(events))
    ended = [e.data for e in events if e.kind == EventKind.STEP and e.data["status"] != "running"]
    function_end = next(d for d in ended if d["nodeId"] == "fn-3" and d.get("outputSize", 0) > 2)
    assert function_end["outputPreview"] == '{"out-greeting":"Hello Ada","out-Done":true}'
    assert {"stepId", "stepIndex", "runIndex", "startedAt", "completedAt", "durationMs"} <= set(function_end)


async def test_subscriptions_see_only_their_backend_and_workflow(
    history: ExecutionHistory, bus: EventBus
) -> None:
    other_workflow = bus.subscribe(BACKEND, "another-function")
    other_backend = bus.subscribe("backend_other")
    everything = bus.subscribe(BACKEND)
    await run_greet(history)
    for subscription in (other_workflow, other_backend, everything):
        bus.unsubscribe(subscription.id)

    assert [e async for e in other_workflow] == []
    assert [e async for e in other_backend] == []
    assert len([e async for e in everything]) > 3


async def test_unsubscribe_ends_the_subscription_once(bus: EventBus) -> None:
    subscription = bus.subscribe(BACKEND)
    assert bus.unsubscribe(subscription.id) is True
    assert bus.unsubscribe(subscription.id) is False
    assert subscription.closed_reason == "unsubscribed"
    assert await subscription.next() is None


async def test_a_subscriber_that_falls_behind_is_closed_with_overflow(history: ExecutionHistory) -> None:
    small = EventBus(max_queue=3)
    subscription = small.subscribe(BACKEND)
    event = ExecutionEvent(EventKind.STARTED, BACKEND, "exec_x", "w", 1, {})
    for _ in range(5):
        small.publish(event)
    assert subscription.closed_reason == "overflow"
    assert len([e async for e in subscription]) == 3
    assert small.subscriber_count == 0


async def test_large_payloads_are_previewed_in_events_never_sent_whole(
    history: ExecutionHistory, bus: EventBus
) -> None:
    subscription = bus.subscribe(BACKEND)
    big_name = "x" * 200_000
    await run_greet(history, {"flag": True, "name": big_name})
    bus.unsubscribe(subscription.id)
    events = [e async for e in subscription]

    for event in events:
        assert len(str(event.to_wire())) < 2_000
    sizes = [e.data.get("outputSize", 0) for e in events if e.data.get("nodeId") == "fn-3"]
    assert max(sizes) > 200_000


async def test_replay_after_last_event_id_rebuilds_the_rest_of_the_run(
    history: ExecutionHistory, bus: EventBus
) -> None:
    others = bus.subscriber_count  # on PostgreSQL, the relay to other replicas (``pg_events``)
    live = bus.subscribe(BACKEND)
    first = await run_greet(history)
    second = await run_greet(history, {"flag": False})
    bus.unsubscribe(live.id)
    seen = [e async for e in live]
    first_events = [e for e in seen if e.execution_id == first]
    cut = first_events[4]

    stream = replay_and_follow(bus, history, BACKEND, last_event_id=cut.event_id)
    replayed = await collect(stream, len(seen) - 5)
    await stream.aclose()

    expected = [(e.execution_id, e.seq, e.kind, e.data.get("nodeId")) for e in seen[5:]]
    assert [(e.execution_id, e.seq, e.kind, e.data.get("nodeId")) for e in replayed] == expected
    assert replayed[-1].execution_id == second
    assert replayed[-1].data["status"] == "success"
    assert bus.subscriber_count == others


async def test_replay_then_live_events_without_duplicates(history: ExecutionHistory, bus: EventBus) -> None:
    live = bus.subscribe(BACKEND)
    first = await run_greet(history)
    bus.unsubscribe(live.id)
    last_seen = [e async for e in live][-1]

    stream = replay_and_follow(bus, history, BACKEND, last_event_id=last_seen.event_id)
    pending = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.05)  # the stream has subscribed and found nothing to replay
    second = await run_greet(history)
    started = await asyncio.wait_for(pending, 2)
    await stream.aclose()

    assert (started.execution_id, started.seq, started.kind) == (second, 1, EventKind.STARTED)
    assert second != first


async def test_a_malformed_last_event_id_is_an_error(history: ExecutionHistory, bus: EventBus) -> None:
    stream = replay_and_follow(bus, history, BACKEND, last_event_id="no-sequence-here")
    with pytest.raises(InvalidHistoryQueryError):
        await stream.__anext__()
