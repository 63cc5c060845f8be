"""Execution-history figures (issue 7): list/get latency on a large file, bytes per step, recorder
overhead (a 5-node function with history off vs on: in one process, runs started directly, and over
HTTP against real backends with wrk), and event latency from a step's end to an in-process subscriber
receiving it.

The large file (1,000,000 executions, 10,000,000 steps) comes from ``scripts/make-history-db``; the full
run reuses ``$HISTORY_BENCH_DB_DIR`` (default ``bench-results/history-db``) and generates it there when it
is missing (a few minutes). ``run(quick=True)`` generates 2,000 executions in a temporary folder.
"""

from __future__ import annotations

import asyncio
import importlib.machinery
import importlib.util
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import closing
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

from sidecar.events import EventBus, EventKind, ExecutionEvent
from sidecar.history import ExecutionHistory, HistoryConfig, RetentionConfig, RunRecorder
from sidecar.history.rows import ExecutionRow, StepRow, step_id
from sidecar.runtime import Runtime, make_request

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the "_" helper modules beside the suites
from _http_load import serve, wrk, wrk_missing

ROOT = Path(__file__).resolve().parents[2]
KEEP_ALL = HistoryConfig(retention=RetentionConfig(max_age_ms=None, interval_seconds=86_400))


def _generator() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader(
        "make_history_db", str(ROOT / "scripts" / "make-history-db")
    )
    spec = importlib.util.spec_from_loader("make_history_db", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _percentiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 3),
    }


async def _timed(calls: int, work: Callable[[int], Awaitable[Any]]) -> dict[str, float]:
    samples = []
    for i in range(calls):
        started = time.perf_counter()
        await work(i)
        samples.append((time.perf_counter() - started) * 1000)
    return _percentiles(samples)


# ---- queries on a large file ------------------------------------------------------------------------


def _database(quick: bool, scratch: Path) -> tuple[Path, int]:
    if quick:
        executions = 2_000
        data_dir = scratch / "quick-db"
    else:
        executions = 1_000_000
        data_dir = Path(os.environ.get("HISTORY_BENCH_DB_DIR", ROOT / "bench-results" / "history-db"))
    if not (data_dir / "executions.sqlite").is_file():
        _generator().generate(data_dir, executions, 10, log=not quick)
    return data_dir, executions


def _sample_ids(path: Path, count: int) -> list[str]:
    with closing(sqlite3.connect(path)) as db:
        top = db.execute("SELECT max(rowid) FROM workflow_executions").fetchone()[0]
        rng = random.Random(1)
        ids: list[str] = []
        while len(ids) < count:
            row = db.execute(
                "SELECT id FROM workflow_executions WHERE rowid = ?", (rng.randint(1, top),)
            ).fetchone()
            if row:
                ids.append(row[0])
        return ids


def _size_figures(path: Path) -> dict[str, Any]:
    with closing(sqlite3.connect(path)) as db:
        executions = db.execute("SELECT count(*) FROM workflow_executions").fetchone()[0]
        steps = db.execute("SELECT count(*) FROM execution_steps").fetchone()[0]
    size = path.stat().st_size
    return {
        "executions": executions,
        "steps": steps,
        "file_bytes": size,
        "bytes_per_step_all_tables": round(size / max(1, steps), 1),
    }


async def _query_figures(data_dir: Path, calls: int) -> dict[str, Any]:
    history = await ExecutionHistory.open(
        data_dir, backend_id="bench", backend_name="Bench", bus=None, config=KEEP_ALL
    )
    try:
        ids = _sample_ids(history.db_path, calls)
        first_page = await history.list_executions({"limit": 100})
        cursor = first_page["nextCursor"]
        queries: dict[str, Mapping[str, Any]] = {
            "list_newest_100": {"limit": 100},
            "list_workflow_100": {"workflowId": "function-07", "limit": 100},
            "list_failed_100": {"status": "error", "limit": 100},
            "list_trigger_and_range_100": {"triggerType": "schedule", "startedAfter": 0, "limit": 100},
            "list_second_page_by_cursor": {"limit": 100, "cursor": cursor},
            "list_node_filter_100": {"nodeId": "node-3", "limit": 100},
            "list_fulltext_search_100": {"search": "TypeError", "limit": 100},
        }
        figures: dict[str, Any] = {}
        for name, params in queries.items():
            figures[name] = await _timed(calls, partial(_list_ignoring_index, history, params))
        figures["get_with_10_steps"] = await _timed(calls, lambda i: history.get_execution(ids[i]))
        return figures
    finally:
        await history.close()


async def _list_ignoring_index(history: ExecutionHistory, params: Mapping[str, Any], _call: int) -> object:
    return await history.list_executions(params)


# ---- recorder overhead and event latency ----------------------------------------------------------


def _five_node_export() -> dict[str, Any]:
    """Request → Function → Function → Condition → Response."""

    def node(node_id: str, node_type: str, params: dict[str, Any], ports: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
        port_defs = [
            {
                "name": p,
                "displayName": p[4:] if p.startswith(("in-", "out")) else p,
                "plug": "input" if p.startswith("in-") else "output",
                "type": "signal" if p == "out-Done" else "*",
                "group": "x",
            }
            for p in ports
        ]
        return {"id": node_id, "type": node_type, "parameters": params, "ports": port_defs, "children": []}

    def conn(a: str, ap: str, b: str, bp: str) -> dict[str, str]:
        return {"sourceId": a, "sourcePort": ap, "targetId": b, "targetPort": bp}

    nodes = [
        node("req", "noodl.cloud.request", {"allowNoAuth": True, "params": "name,n"}),
        node(
            "fa",
            "JavaScriptFunction",
            {"functionScript": "Outputs.v = Inputs.n * 2; Outputs.Done();"},
            ["in-n", "out-v", "out-Done"],
        ),
        node(
            "fb",
            "JavaScriptFunction",
            {"functionScript": "Outputs.v = 'Hi ' + Inputs.name + Inputs.v; Outputs.Done();"},
            ["in-name", "in-v", "out-v", "out-Done"],
        ),
        node("cond", "Condition", {}),
        node("resp", "noodl.cloud.response", {"params": "greeting"}),
    ]
    connections = [
        conn("req", "receive", "fa", "run"),
        conn("req", "pm-n", "fa", "in-n"),
        conn("fa", "out-Done", "fb", "run"),
        conn("fa", "out-v", "fb", "in-v"),
        conn("req", "pm-name", "fb", "in-name"),
        conn("fb", "out-v", "cond", "condition"),
        conn("fb", "out-Done", "cond", "eval"),
        conn("fb", "out-v", "resp", "pm-greeting"),
        conn("cond", "ontrue", "resp", "send"),
    ]
    component = {
        "name": "/#__cloud__/five",
        "ports": [],
        "roots": [],
        "nodes": nodes,
        "connections": connections,
    }
    return {"settings": {}, "metadata": {}, "components": [component]}


async def _throughput(
    runtime: Runtime, runs: int, recorder: Callable[[], RunRecorder | None]
) -> tuple[float, float]:
    """(runs per second, process CPU µs per run) for ``runs`` runs, 50 at a time."""
    concurrency = 50
    started, cpu_started = time.perf_counter(), time.process_time()
    for offset in range(0, runs, concurrency):
        await asyncio.gather(
            *(
                runtime.run("five", make_request({"name": "Ada", "n": i}), recorder=recorder())
                for i in range(offset, min(runs, offset + concurrency))
            )
        )
    return runs / (time.perf_counter() - started), (time.process_time() - cpu_started) / runs * 1e6


async def _recorder_figures(scratch: Path, runs: int) -> dict[str, Any]:
    """History off and on alternate twice in one process; the best of each pair is reported, so a
    neighbour's load on a shared machine penalises neither side alone. CPU per run counts the writer
    thread too (process time)."""
    runtime = Runtime.from_export(_five_node_export())
    probe = await runtime.run("five", make_request({"name": "Ada", "n": 1}))
    assert probe.status_code == 200, probe.body
    await _throughput(runtime, runs // 5, lambda: None)  # warm-up
    history = await ExecutionHistory.open(
        scratch / "recorder", backend_id="bench", backend_name="Bench", bus=EventBus(), config=KEEP_ALL
    )
    off: list[tuple[float, float]] = []
    on: list[tuple[float, float]] = []
    try:
        assert history.writer is not None
        for _ in range(2):
            off.append(await _throughput(runtime, runs, lambda: None))
            started, cpu_started = time.perf_counter(), time.process_time()
            await _throughput(runtime, runs, history.recorder_for)
            await history.writer.flush()  # the writer's work counts: time until every row is committed
            on.append(
                (runs / (time.perf_counter() - started), (time.process_time() - cpu_started) / runs * 1e6)
            )
    finally:
        await history.close()
    size = _size_figures(history.db_path)
    best_off, best_on = max(off), max(on)
    return {
        "runs_per_measure": runs,
        "history_off_runs_per_s": round(best_off[0], 1),
        "history_on_runs_per_s": round(best_on[0], 1),
        "on_vs_off_percent": round(100 * best_on[0] / best_off[0], 1),
        "cpu_us_per_run_off": round(min(c for _, c in off), 1),
        "cpu_us_per_run_on": round(min(c for _, c in on), 1),
        "executions_recorded": size["executions"],
        "steps_recorded": size["steps"],
        "steps_per_run": round(size["steps"] / max(1, size["executions"]), 2),
        "bytes_per_step_small_payloads": size["bytes_per_step_all_tables"],
    }


def _http_figures(scratch: Path, quick: bool) -> dict[str, Any]:
    """The 5-node function over HTTP at 20 clients: a backend without history (``--ephemeral``) and one
    with it, alternating twice; the best of each is reported, as for the in-process figure."""
    if wrk_missing():
        return {"skipped": "wrk is not installed (apt-get install -y wrk)"}
    body = json.dumps({"name": "Ada", "n": 1})
    seconds = 2 if quick else 6
    rates: dict[str, list[int]] = {"off": [], "on": []}
    for _ in range(2):
        for label in ("off", "on"):
            data_dir = scratch / f"http_{label}_{len(rates[label])}"
            with serve(data_dir, ephemeral=label == "off") as backend:
                url = backend.deploy("five", _five_node_export())
                wrk(url, backend, body, 1, 4, scratch)  # warm-up
                figures = wrk(url, backend, body, seconds, 20, scratch)
                assert figures["non_2xx"] == 0, figures
                rates[label].append(figures["calls_per_s"])
    best_off, best_on = max(rates["off"]), max(rates["on"])
    return {
        "clients": 20,
        "history_off_calls_per_s": best_off,
        "history_on_calls_per_s": best_on,
        "on_vs_off_percent": round(100 * best_on / best_off, 1),
    }


class _StepClock:
    """When the node whose finish is being recorded ended its work, and when each of its events
    was published / received, keyed by (execution id, seq)."""

    def __init__(self) -> None:
        self.current_end = 0
        self.ended: dict[tuple[str, int], int] = {}
        self.received: dict[tuple[str, int], int] = {}


class _StampingBus(EventBus):
    def __init__(self, clock: _StepClock) -> None:
        super().__init__()
        self._clock = clock

    def publish(self, event: ExecutionEvent) -> None:
        if event.kind == EventKind.STEP and event.data["status"] == "success":
            self._clock.ended[(event.execution_id, event.seq)] = self._clock.current_end
        super().publish(event)


class _TimingRecorder:
    """Wraps a RunRecorder and notes when each node's work ended, before the recorder sees it."""

    def __init__(self, inner: RunRecorder, clock: _StepClock) -> None:
        self._inner = inner
        self._clock = clock

    def run_started(self, run_id: str, function: str, request: Mapping[str, Any]) -> None:
        self._inner.run_started(run_id, function, request)

    def node_started(self, run_id: str, node_id: str, node_type: str, inputs: Mapping[str, Any]) -> None:
        self._inner.node_started(run_id, node_id, node_type, inputs)

    def node_finished(self, run_id: str, node_id: str, node_type: str, outputs: Mapping[str, Any]) -> None:
        self._clock.current_end = time.perf_counter_ns()
        self._inner.node_finished(run_id, node_id, node_type, outputs)

    def node_failed(self, run_id: str, node_id: str, node_type: str, error: str) -> None:
        self._inner.node_failed(run_id, node_id, node_type, error)

    def run_finished(self, run_id: str, status_code: int, body: str, outcome: str) -> None:
        self._inner.run_finished(run_id, status_code, body, outcome)


async def _event_latency(scratch: Path, runs: int) -> dict[str, Any]:
    clock = _StepClock()
    bus = _StampingBus(clock)
    history = await ExecutionHistory.open(
        scratch / "events", backend_id="bench", backend_name="Bench", bus=bus, config=KEEP_ALL
    )
    runtime = Runtime.from_export(_five_node_export())
    subscription = bus.subscribe("bench")

    async def listen() -> None:
        async for event in subscription:
            clock.received[(event.execution_id, event.seq)] = time.perf_counter_ns()

    listener = asyncio.ensure_future(listen())
    try:
        for i in range(runs):
            inner = history.recorder_for()
            assert inner is not None
            request = make_request({"name": "Ada", "n": i})
            await runtime.run("five", request, recorder=_TimingRecorder(inner, clock))
            await asyncio.sleep(0)
        await asyncio.sleep(0.05)
    finally:
        bus.unsubscribe(subscription.id)
        await listener
        await history.close()
    samples = [(clock.received[key] - end) / 1e6 for key, end in clock.ended.items() if key in clock.received]
    return {
        "step_events": len(samples),
        **_percentiles(samples),
        "note": "from a node's end to an in-process subscriber holding the event; the IPC hop comes on top",
    }


# ---- execution:pin on a large execution --------------------------------------------------------------

PIN_STEPS = 1_000


def _pin_steps(execution_id: str, started: int) -> list[StepRow]:
    """1,000 steps as a long run records them: 20 canvas nodes, a For Each node with most of the runs
    (each item its own step), small port maps, every 50th step carrying a 4 kB value."""
    steps = []
    for index in range(PIN_STEPS):
        looping = index % 4 != 0
        node_id = "loop" if looping else f"node-{index % 20}"
        inputs: dict[str, Any] = (
            {"currentIndex": index, "currentItem": {"id": index, "name": f"item {index}", "tags": ["a", "b"]}}
            if looping
            else {"value": index, "run": True}
        )
        outputs: dict[str, Any] = {"result": {"n": index * 2, "ok": True}, "done": True}
        if index % 50 == 0:
            outputs["payload"] = "x" * 4_000
        input_text, output_text = json.dumps(inputs), json.dumps(outputs)
        steps.append(
            StepRow(
                id=step_id(execution_id, index),
                execution_id=execution_id,
                node_id=node_id,
                node_type="Workflow For Each" if looping else "Expression",
                step_index=index,
                started_at=started + index,
                completed_at=started + index + 1,
                duration_ms=1,
                status="error" if index == 777 else "success",
                input_data=input_text,
                output_data=output_text,
                error_message="item 777: boom" if index == 777 else None,
                run_index=index // 20,
                start_seq=2 + 2 * index,
                seq=3 + 2 * index,
                input_size=len(input_text),
                output_size=len(output_text),
            )
        )
    return steps


async def _pin_figures(scratch: Path, calls: int) -> dict[str, Any]:
    """``execution:pin`` for one execution of 1,000 steps through the channel's own code
    (``sidecar.debugging.service.pin``: one read on the history's read thread; target p99 <= 20 ms):
    ``pin_1000_steps`` as the editor calls it again and again (the overlay of a finished execution is
    kept; each call still reads the execution's row), ``pin_1000_steps_first`` with nothing kept (the
    light steps folded on the read thread, only the shown runs' payloads read), and the old path
    (every payload read, folded on the loop) beside them; the answer's size in JSON."""
    from types import SimpleNamespace

    from sidecar.debugging import service
    from sidecar.debugging.pin import pin_execution
    from sidecar.debugging.pin_cache import PinCache
    from sidecar.debugging.running import RunningExecutions
    from sidecar.preload import settle_collector

    history = await ExecutionHistory.open(
        scratch / "pin", backend_id="bench", backend_name="Bench", bus=None, config=KEEP_ALL
    )
    try:
        assert history.writer is not None
        started = int(time.time() * 1000)
        execution_id = "exec_pinbench0001"
        history.writer.submit_execution(
            ExecutionRow(
                id=execution_id,
                workflow_id="long",
                workflow_name="long",
                trigger_type="webhook",
                status="error",
                started_at=started,
                completed_at=started + PIN_STEPS,
                duration_ms=PIN_STEPS,
                error_message="HTTP 500: item 777: boom",
                trigger_data='{"headers":{},"bodySize":2,"body":{}}',
                last_seq=2 * PIN_STEPS + 3,
            )
        )
        for row in _pin_steps(execution_id, started):
            history.writer.submit_step(row)
        await history.writer.flush()

        settle_collector()  # the collector as the sidecar sets it once its services are loaded
        holder: Any = SimpleNamespace(backend_id="bench", history=history, running=RunningExecutions())

        async def pin(_call: int) -> dict[str, Any]:
            return await service.pin([holder], execution_id)

        async def pin_first(_call: int) -> dict[str, Any]:
            holder.running.pin_cache = PinCache()
            return await service.pin([holder], execution_id)

        async def pin_full_rows(_call: int) -> dict[str, Any]:
            found = await history.execution_rows(execution_id)
            assert found is not None
            return pin_execution(*found)

        answer = await pin_first(0)
        answer.pop("backendId")
        assert answer == await pin_full_rows(0)
        figures: dict[str, Any] = {"steps": PIN_STEPS, "answer_json_bytes": len(json.dumps(answer))}
        figures["pin_1000_steps"] = await _timed(calls, pin) | {"target_p99_ms": 20}
        figures["pin_1000_steps_first"] = await _timed(calls, pin_first) | {"target_p99_ms": 20}
        figures["pin_1000_steps_reading_every_payload"] = await _timed(max(1, calls // 5), pin_full_rows)
        return figures
    finally:
        await history.close()


async def _bench(quick: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        data_dir, _ = _database(quick, scratch)
        figures: dict[str, Any] = {"database": _size_figures(data_dir / "executions.sqlite")}
        figures["queries"] = await _query_figures(data_dir, 50 if quick else 1_000)
        figures["recorder"] = await _recorder_figures(scratch, 500 if quick else 5_000)
        figures["recorder_over_http"] = await asyncio.to_thread(_http_figures, scratch, quick)
        figures["events"] = await _event_latency(scratch, 50 if quick else 1_000)
        figures["pin"] = await _pin_figures(scratch, 50 if quick else 500)
        return figures


def run(quick: bool) -> dict[str, object]:
    return asyncio.run(_bench(quick))
