"""Execution events over SSE are written from inside ``publish``: at once while the client keeps up; under
pressure behind a backlog whose step events coalesce per execution (started → latest step → finished, in
order); a reconnect with ``Last-Event-ID`` replays the rest once, over a real backend."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp

from sidecar.backends.backend import Backend, BackendSpec
from sidecar.events import EventBus, EventKind, ExecutionEvent
from sidecar.web.direct_sse import HIGH_WATER, DirectStream
from tests.conftest import PROJECT_ROOT

BACKEND = "backend_sse"
HELLO = json.loads((PROJECT_ROOT / "examples" / "hello.workflow.json").read_text())
TOKEN = "admin-token-for-sse-tests-0123456789"


class Transport:
    """Keeps what is written; ``buffered`` is what it claims still waits for the socket."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.buffered = 0

    def write(self, data: bytes) -> None:
        self.data += data

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def ids(self) -> list[str]:
        return [line[4:] for line in self.data.decode().split("\n") if line.startswith("id: ")]


def run_events(execution: str, steps: int) -> list[ExecutionEvent]:
    kinds = [EventKind.STARTED, *[EventKind.STEP] * steps, EventKind.FINISHED]
    return [
        ExecutionEvent(kind, BACKEND, execution, "wf", seq, {}) for seq, kind in enumerate(kinds, start=1)
    ]


def stream_on(bus: EventBus, transport: Transport, *, chunked: bool = False) -> DirectStream:
    stream = DirectStream(transport, chunked=chunked, backend_id=BACKEND, workflow_id=None)
    bus.subscribe(BACKEND, sink=stream.offer)
    stream.live()
    return stream


def test_events_are_written_inside_publish_as_http_chunks() -> None:
    bus = EventBus()
    transport = Transport()
    stream_on(bus, transport, chunked=True)
    for event in run_events("exec_a", 1):
        bus.publish(event)
        assert transport.data.endswith(b"\n\n\r\n")  # already on the socket: no task had to run
    text = transport.data.decode()
    first_size, _, rest = text.partition("\r\n")
    assert int(first_size, 16) == len(rest.split("\r\n")[0].encode())
    assert transport.ids() == ["exec_a:1", "exec_a:2", "exec_a:3"]


def test_under_pressure_steps_coalesce_and_started_finished_keep_their_order() -> None:
    bus = EventBus()
    transport = Transport()
    stream = stream_on(bus, transport)
    runs = {f"exec_{n}": run_events(f"exec_{n}", 30) for n in range(20)}
    transport.buffered = HIGH_WATER + 1  # the client stopped reading
    for index in range(32):
        for events in runs.values():
            bus.publish(events[index])
    assert transport.ids() == []
    transport.buffered = 0
    stream.drain()
    ids = transport.ids()
    assert len(ids) < 20 * 32  # steps were coalesced
    for execution, events in runs.items():
        seqs = [int(i.rpartition(":")[2]) for i in ids if i.rpartition(":")[0] == execution]
        assert seqs[0] == 1  # started
        assert seqs[-1] == 32  # finished
        assert seqs[-2] == 31  # the latest step before it: nothing newer was dropped
        assert seqs == sorted(seqs)
        assert len(events) == 32


def test_a_backlog_past_its_bound_ends_the_stream() -> None:
    bus = EventBus()
    transport = Transport()
    stream = stream_on(bus, transport)
    transport.buffered = HIGH_WATER + 1
    subscription_count = bus.subscriber_count
    for index in range(20_000):
        bus.publish(ExecutionEvent(EventKind.STARTED, BACKEND, f"exec_{index}", "wf", 1, {}))
    assert stream.overflowed
    assert bus.subscriber_count == subscription_count - 1


async def read_frames(stream: aiohttp.ClientResponse, until_finished: int) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    frame: dict[str, Any] = {}
    finished = 0
    async with asyncio.timeout(10):
        async for raw in stream.content:
            line = raw.decode().rstrip("\n")
            if line:
                name, _, value = line.partition(": ")
                frame[name] = value
                continue
            if "id" in frame:
                frames.append(frame)
                finished += frame["event"] == "execution:finished"
            frame = {}
            if finished >= until_finished:
                return frames
    return frames


async def test_a_reconnect_with_last_event_id_replays_the_rest_once(tmp_path: Path) -> None:
    backend = Backend(BackendSpec(data_dir=tmp_path, backend_id=BACKEND, name="SSE", admin_token=TOKEN))
    await backend.start()
    admin = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as http:
            assert (await http.put("/admin/workflows/hello", json=HELLO, headers=admin)).status == 200
            async with http.get("/executions/stream", params={"authToken": TOKEN}) as stream:
                async with http.post("/functions/hello", json={"name": "A"}, headers=admin) as reply:
                    assert reply.status == 200
                first = await read_frames(stream, 1)
            await backend.history.writer.flush()
            ids = [frame["id"] for frame in first]
            assert len(ids) >= 3
            headers = {"Last-Event-ID": ids[1]}
            async with http.get("/executions/stream", params={"authToken": TOKEN}, headers=headers) as again:
                async with http.post("/functions/hello", json={"name": "B"}, headers=admin) as reply:
                    assert reply.status == 200
                second = await read_frames(again, 2)
            async with http.get(
                "/executions/stream", params={"authToken": TOKEN}, headers={"Last-Event-ID": "garbage"}
            ) as refused:
                assert refused.status == 400
    finally:
        await backend.stop()
    replayed = [frame["id"] for frame in second]
    assert replayed[: len(ids) - 2] == ids[2:]  # the rest of the first run, once
    assert len(replayed) == len(set(replayed))
    assert second[-1]["event"] == "execution:finished"
