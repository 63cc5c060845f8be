"""Monitoring figures (issue 22): live execution events during a burst of concurrent function calls, the
``monitoring:metrics`` query over 30 days x 100 workflows, a ``/metrics`` scrape with 1,000 workflows, the
time from a failed run to its alert at a webhook, and history-on throughput with and without the metrics.

Events: a real backend (history on) with ``examples/hello.workflow.json``; 1,000 calls start at once.
Each event's latency is the time from its ``publish`` to a reader holding it, on two paths:

- ``ipc``: the IPC door's path — a sink subscription encodes each event as a msgpack-RPC notification into
  a real ``FrameWriter`` on an OS pipe; a thread reads and decodes the pipe (as the editor would);
- ``sse``: ``GET /executions/stream`` of the running backend, read over a real socket by another process
  (events are written to the socket from inside ``publish``; a slow reader's step events coalesce);
- ``queued``: a queued subscription read by a task of its own (the old SSE path, for comparison); its step
  events may be coalesced under pressure, so the figures count the events delivered per kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sidecar.backends import functions
from sidecar.backends.backend import Backend, BackendSpec
from sidecar.events import ExecutionEvent
from sidecar.history.rows import ExecutionRow, StepRow, WriteBatch, new_execution_id
from sidecar.ipc.envelope import FrameEncoder
from sidecar.ipc.transport import FrameWriter
from sidecar.monitoring import Monitoring
from sidecar.monitoring.aggregate import HOUR_MS
from sidecar.monitoring.prometheus import PrometheusExporter
from sidecar.preload import settle_collector

ROOT = Path(__file__).resolve().parents[2]
PIPE_BYTES = 1 << 20
HELLO = json.loads((ROOT / "examples" / "hello.workflow.json").read_text())


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "max_ms": round(ordered[-1], 2),
    }


async def _burst(calls: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        backend = Backend(
            BackendSpec(data_dir=Path(folder), backend_id="backend_bench", name="B", admin_token="t" * 32)
        )
        await backend.start()
        try:
            backend.workflows.deploy("hello", HELLO)
            published: dict[tuple[str, int], int] = {}
            bus = backend.bus
            original = bus.publish

            def stamped(event: ExecutionEvent) -> None:
                published[(event.execution_id, event.seq)] = time.monotonic_ns()
                original(event)

            bus.publish = stamped
            subscription = bus.subscribe("backend_bench")
            latencies: dict[str, list[float]] = {
                "execution:started": [],
                "execution:step": [],
                "execution:finished": [],
            }
            finished = 0

            async def read() -> None:
                nonlocal finished
                async for event in subscription:
                    at = time.monotonic_ns()
                    sent = published.get((event.execution_id, event.seq))
                    if sent is not None:
                        latencies.setdefault(str(event.kind), []).append((at - sent) / 1e6)
                    if str(event.kind) == "execution:finished":
                        finished += 1
                        if finished == calls:
                            return

            ipc_sink, ipc_finish = await _ipc_reader(published)
            sse_finish = await _sse_reader(backend.port, "t" * 32, published, calls)
            bus.subscribe("backend_bench", sink=ipc_sink)
            reader = asyncio.get_running_loop().create_task(read())
            headers = {"content-type": "application/json"}
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    functions.invoke(backend, "hello", json.dumps({"name": f"n{i}"}), headers)
                    for i in range(calls)
                )
            )
            answered_s = time.perf_counter() - started
            await asyncio.wait_for(reader, 30)
            ipc_latencies = await asyncio.wait_for(ipc_finish(), 30)
            sse_latencies = await asyncio.wait_for(sse_finish(), 60)
            every = [value for values in latencies.values() for value in values]
            return {
                "calls": calls,
                "answered_s": round(answered_s, 3),
                "ipc": {"events": len(ipc_latencies), **_percentiles(ipc_latencies)},
                "sse": {
                    "events": {kind: len(values) for kind, values in sse_latencies.items()},
                    "all": _percentiles([v for values in sse_latencies.values() for v in values]),
                },
                "queued": {
                    "events": {kind: len(values) for kind, values in latencies.items()},
                    "coalesced_steps": subscription.coalesced,
                    "all": _percentiles(every),
                    **{
                        kind.split(":")[1]: _percentiles(values)
                        for kind, values in latencies.items()
                        if values
                    },
                },
            }
        finally:
            await backend.stop()


_READER = """
import json, sys, time, msgpack
unpacker = msgpack.Unpacker(raw=False)
seen = []
while chunk := sys.stdin.buffer.raw.read(1 << 20):
    at = time.monotonic_ns()
    unpacker.feed(chunk)
    for _type, method, params in unpacker:
        seen.append((params[0]["executionId"], params[0]["seq"], at))
sys.stdout.write(json.dumps(seen))
"""


_SSE_READER = """
import json, socket, sys, time
port, token, calls = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sock = socket.create_connection(("127.0.0.1", port))
request = f"GET /executions/stream?authToken={token} HTTP/1.1\\r\\nHost: 127.0.0.1:{port}\\r\\n\\r\\n"
sock.sendall(request.encode())
sys.stdout.write("ready\\n"); sys.stdout.flush()
seen, pending, finished = [], b"", 0
while finished < calls:
    chunk = sock.recv(1 << 20)
    if not chunk:
        break
    at = time.monotonic_ns()
    pending += chunk
    *lines, pending = pending.split(b"\\n")
    kind = None
    for line in lines:
        if line.startswith(b"event: "):
            kind = line[7:].decode().strip()
        elif line.startswith(b"id: "):
            ident = line[4:].decode().strip()
        elif line.startswith(b"data: ") and kind:
            execution_id, _, seq = ident.rpartition(":")
            seen.append((kind, execution_id, int(seq), at))
            finished += kind == "execution:finished"
sys.stdout.write(json.dumps(seen))
"""


async def _sse_reader(port: int, token: str, published: dict[tuple[str, int], int], calls: int) -> Any:
    """Another process reads ``GET /executions/stream`` over a socket; ``finish()`` waits for its
    ``calls`` finished events and answers the latencies per kind."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SSE_READER, str(port), token, str(calls), stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    await child.stdout.readline()
    await asyncio.sleep(0.3)  # the stream's subscription is open before the burst starts

    async def finish() -> dict[str, list[float]]:
        out, _ = await child.communicate()
        latencies: dict[str, list[float]] = {}
        for kind, execution_id, seq, at in json.loads(out):
            sent = published.get((execution_id, seq))
            if sent is not None:
                latencies.setdefault(kind, []).append((at - sent) / 1e6)
        return latencies

    return finish


async def _ipc_reader(published: dict[tuple[str, int], int]) -> tuple[Any, Any]:
    """A sink writing notifications through a real FrameWriter into a pipe read by another process (as the
    editor reads the sidecar's stdout); ``finish()`` closes the pipe and returns the latencies."""
    loop = asyncio.get_running_loop()
    read_fd, write_fd = os.pipe()
    if hasattr(fcntl, "F_SETPIPE_SZ"):  # Linux: room for a burst while the reader waits for a core
        with contextlib.suppress(OSError):
            fcntl.fcntl(write_fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _READER, stdin=read_fd, stdout=asyncio.subprocess.PIPE
    )
    os.close(read_fd)
    writer = FrameWriter(loop)
    transport, _ = await loop.connect_write_pipe(lambda: writer, os.fdopen(write_fd, "wb", buffering=0))
    encoder = FrameEncoder()

    def sink(event: ExecutionEvent) -> None:
        writer.write(encoder.notification(str(event.kind), [event.to_wire()]))

    async def finish() -> list[float]:
        await writer.drain(30)
        transport.close()
        out, _ = await child.communicate()
        latencies = []
        for execution_id, seq, at in json.loads(out):
            sent = published.get((execution_id, seq))
            if sent is not None:
                latencies.append((at - sent) / 1e6)
        return latencies

    return sink, finish


async def _metrics_query(days: int, workflows: int) -> dict[str, Any]:
    """``monitoring:metrics`` over ``days`` x ``workflows`` hourly cells (one run each, two nodes)."""
    with tempfile.TemporaryDirectory() as folder:
        monitoring = await Monitoring.open(Path(folder), ephemeral=False, gauges=dict)
        settle_collector()  # the collector as the sidecar sets it once its services are loaded
        try:
            now = time.time_ns() // 1_000_000
            first = now - now % HOUR_MS - days * 24 * HOUR_MS
            for hour in range(days * 24):
                batch = WriteBatch()
                for workflow in range(workflows):
                    at = first + hour * HOUR_MS
                    running = ExecutionRow(
                        new_execution_id(at), f"wf{workflow}", "w", "webhook", "running", at
                    )
                    batch.executions.append(running)
                    for index, node in enumerate(("n1", "n2")):
                        batch.steps.append(
                            StepRow(
                                f"s{workflow}{index}",
                                running.id,
                                node,
                                "T",
                                index,
                                at,
                                "success",
                                duration_ms=5,
                            )
                        )
                    batch.executions.append(running._replace(status="success", duration_ms=20 + workflow))
                monitoring.observe(batch)
            await monitoring.flush()
            cases = {
                "one_workflow_by_day": {"from": first, "to": now, "bucket": "day", "workflowId": "wf7"},
                "all_workflows_by_day": {"from": first, "to": now, "bucket": "day", "nodes": False},
            }
            figures: dict[str, Any] = {"cells": days * 24 * workflows}
            for name, params in cases.items():
                await monitoring.metrics(params)  # once unmeasured: the file's pages into the cache
                samples = []
                for _ in range(5 if name.startswith("all") else 100):
                    started = time.perf_counter()
                    await monitoring.metrics(params)
                    samples.append((time.perf_counter() - started) * 1000)
                figures[name] = _percentiles(samples)
            return figures
        finally:
            await monitoring.close()


def _scrape(workflows: int) -> dict[str, Any]:
    """``render()`` with ``workflows`` workflows x 2 statuses: the first scrape (every series formatted),
    then steady scrapes with a tenth of the workflows run again in between (their series re-formatted;
    the others come from the per-series cache), and scrapes with nothing new."""
    exporter = PrometheusExporter(dict)

    def runs(count: int, offset: int = 0) -> None:
        for workflow in range(offset, offset + count):
            for status in ("success", "error"):
                row = ExecutionRow(
                    f"exec_{workflow}", f"wf{workflow}", "w", "webhook", status, 0, duration_ms=30
                )
                exporter.run_finished(row, False)

    runs(workflows)
    started = time.perf_counter()
    exporter.render()
    first_ms = (time.perf_counter() - started) * 1000
    changed, unchanged = [], []
    for index in range(20):
        runs(workflows // 10, (index * workflows // 10) % workflows)
        started = time.perf_counter()
        exporter.render()
        changed.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        exporter.render()
        unchanged.append((time.perf_counter() - started) * 1000)
    return {
        "workflows": workflows,
        "bytes": len(exporter.render()),
        "first_ms": round(first_ms, 2),
        **_percentiles(changed),
        "tenth_changed": _percentiles(changed),
        "nothing_changed": _percentiles(unchanged),
    }


def _failing(name: str) -> dict[str, Any]:
    stop = {
        "id": "stop",
        "type": "Workflow Stop",
        "parameters": {"errorMessage": "declined"},
        "ports": [],
        "children": [],
    }
    request = {
        "id": "req",
        "type": "noodl.cloud.request",
        "parameters": {"allowNoAuth": True},
        "ports": [],
        "children": [],
    }
    connection = {"sourceId": "req", "sourcePort": "receive", "targetId": "stop", "targetPort": "run"}
    component = {
        "name": f"/#__cloud__/{name}",
        "ports": [],
        "roots": [],
        "nodes": [request, stop],
        "connections": [connection],
    }
    return {"settings": {}, "metadata": {}, "components": [component]}


async def _alert_latency(alerts: int) -> dict[str, Any]:
    """A ``workflowFailed`` rule over ``alerts`` workflows and a webhook channel to a local receiver: each
    workflow fails once; the figure is the time from the failed call's answer to the notice received."""
    from aiohttp import web

    received: dict[str, float] = {}
    arrived = asyncio.Event()

    async def accept(request: web.Request) -> web.Response:
        body = await request.json()
        received[body["alert"]["subject"]] = time.perf_counter()
        arrived.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", accept)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    names = [f"pay{index}" for index in range(alerts)]
    config = {
        "channels": [{"id": "hook", "type": "webhook", "url": url}],
        "rules": [{"id": "fails", "type": "workflowFailed", "workflows": names, "channels": ["hook"]}],
    }
    try:
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "alerts.json").write_text(json.dumps(config))
            backend = Backend(
                BackendSpec(
                    data_dir=Path(folder), backend_id="backend_alerts", name="A", admin_token="t" * 32
                )
            )
            await backend.start()
            try:
                latencies = []
                for name in names:
                    backend.workflows.deploy(name, _failing(name))
                    await functions.invoke(backend, name, "{}", {"content-type": "application/json"})
                    answered = time.perf_counter()
                    while name not in received:
                        arrived.clear()
                        await asyncio.wait_for(arrived.wait(), 10)
                    latencies.append((received[name] - answered) * 1000)
                return {"alerts": alerts, **_percentiles(latencies)}
            finally:
                await backend.stop()
    finally:
        await runner.cleanup()


async def _throughput_with_and_without_metrics(calls: int, rounds: int) -> dict[str, Any]:
    """Runs/s of ``calls`` concurrent hello calls with history on, with the metrics (history observer,
    live-feed hook) attached and detached, interleaved ``rounds`` times; the best round of each."""
    with tempfile.TemporaryDirectory() as folder:
        backend = Backend(
            BackendSpec(data_dir=Path(folder), backend_id="backend_tp", name="T", admin_token="t" * 32)
        )
        await backend.start()
        try:
            backend.workflows.deploy("hello", HELLO)
            writer = backend.history.writer
            observers, submitted = list(writer.observers), writer.submitted
            headers = {"content-type": "application/json"}
            best = {"with_metrics": 0.0, "without_metrics": 0.0}
            for _ in range(rounds):
                for mode in ("with_metrics", "without_metrics"):
                    if mode == "with_metrics":
                        writer.observers[:], writer.submitted = observers, submitted
                    else:
                        writer.observers[:], writer.submitted = [], None
                    started = time.perf_counter()
                    await asyncio.gather(
                        *(functions.invoke(backend, "hello", '{"name":"t"}', headers) for _ in range(calls))
                    )
                    await writer.flush()
                    rate = calls / (time.perf_counter() - started)
                    best[mode] = max(best[mode], rate)
            writer.observers[:], writer.submitted = observers, submitted
            return {
                "calls": calls,
                "runs_per_s": {mode: round(rate) for mode, rate in best.items()},
                "ratio": round(best["with_metrics"] / best["without_metrics"], 3),
            }
        finally:
            await backend.stop()


def run(quick: bool) -> dict[str, Any]:
    figures: dict[str, Any] = {"live_events_during_burst": asyncio.run(_burst(200 if quick else 1000))}
    days, workflows = (3, 10) if quick else (30, 100)
    figures["metrics_query"] = asyncio.run(_metrics_query(days, workflows))
    figures["prometheus_scrape"] = _scrape(100 if quick else 1000)
    figures["alert_after_failed_run"] = asyncio.run(_alert_latency(5 if quick else 20))
    figures["history_throughput"] = asyncio.run(
        _throughput_with_and_without_metrics(200 if quick else 500, 5)
    )
    figures["targets"] = {
        "live_events_during_burst.ipc.p99_ms": 1000,
        "live_events_during_burst.sse.all.p99_ms": 1000,
        "metrics_query.one_workflow_by_day.p99_ms": 10,
        "prometheus_scrape.p99_ms": 50,
        "alert_after_failed_run.max_ms": 5000,
        "history_throughput.ratio": 0.95,
    }
    return figures
