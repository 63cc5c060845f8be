"""Graph runtime figures: in-process per-run latency (p50/p99) for the conformance functions, and
many runs started at once (wall time, peak RSS).

Reference (real JavaScript CloudRunner on the same kind of machine, spec §10): p50 84 µs echo,
97 µs expression, 95 µs function, 172 µs sum3, 511 µs runtasks; 1,000 concurrent runs 230-570 ms.
``run(quick=True)`` uses small counts so the smoke test finishes in seconds.
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from sidecar.preload import settle_collector
from sidecar.runtime import Runtime, make_request

EXPORTS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "cloudrunner" / "exports"

# function → (export file, request body), the bodies of the recorded conformance cases
FUNCTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "echo": ("a_echo.export.json", {"message": "hello noodl", "count": 3}),
    "expression": ("b_expression.export.json", {"a": 6, "b": 7}),
    "function": (
        "d_function.export.json",
        {"text": "the quick  brown fox", "items": [{"price": 2.5, "qty": 4}, {"price": 10, "qty": 1}]},
    ),
    "sum3": ("f_component.export.json", {"x": 1, "y": 2, "z": 39}),
    "runtasks": ("h_runtasks.export.json", {"items": [{"value": i} for i in range(1, 6)]}),
}


GC_THRESHOLDS = (50_000, 20, 100)
# Chains of String Format nodes (Request ``x`` → N nodes → Response ``y``): per-run cost by graph size.
CHAIN_LENGTHS = (10, 100, 400, 1_000, 3_000)


def chain_export(length: int) -> dict[str, Any]:
    """One function ``chain``: the request's ``x`` through ``length`` String Format nodes in a row to the
    Response's ``y``, sent on receive (so the Response pulls the whole chain in its own update)."""

    def node(node_id: str, node_type: str, parameters: dict[str, Any]) -> dict[str, Any]:
        return {"id": node_id, "type": node_type, "parameters": parameters, "ports": [], "children": []}

    def conn(source: str, source_port: str, target: str, target_port: str) -> dict[str, str]:
        return {"sourceId": source, "sourcePort": source_port, "targetId": target, "targetPort": target_port}

    nodes = [
        node("req", "noodl.cloud.request", {"allowNoAuth": True}),
        node("resp", "noodl.cloud.response", {}),
    ]
    connections = [conn("req", "receive", "resp", "send")]
    previous = ("req", "pm-x")
    for index in range(length):
        nodes.append(node(f"s{index}", "String Format", {"format": "{v}"}))
        connections.append(conn(*previous, f"s{index}", "v"))
        previous = (f"s{index}", "formatted")
    connections.append(conn(*previous, "resp", "pm-y"))
    component = {
        "name": "/#__cloud__/chain",
        "ports": [],
        "roots": [],
        "nodes": nodes,
        "connections": connections,
    }
    return {"settings": {}, "metadata": {}, "components": [component]}


def _runtime(export_file: str, **options: Any) -> Runtime:
    return Runtime.from_export(json.loads((EXPORTS / export_file).read_text(encoding="utf-8")), **options)


def _peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux reports KiB


async def _latency(name: str, runs: int, warmup: int) -> dict[str, float]:
    export_file, body = FUNCTIONS[name]
    runtime = _runtime(export_file)
    request = make_request(body)
    for _ in range(warmup):
        await runtime.run(name, request)
    samples, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = await runtime.run(name, request)
        cpu.append((time.process_time() - started_cpu) * 1e6)
        samples.append((time.perf_counter() - started) * 1e6)
        assert response.status_code == 200, response.body
    samples.sort()
    return {
        "p50_us": round(statistics.median(samples), 1),
        "p99_us": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 1),
        "mean_us": round(statistics.fmean(samples), 1),
        "min_us": round(samples[0], 1),
        # CPU of the whole process (the loop and the script workers): comparable on a shared machine.
        "cpu_p50_us": round(statistics.median(cpu), 1),
    }


async def _chain(length: int, runs: int) -> dict[str, float]:
    """p50 per run of a chain of ``length`` String Format nodes, wall and CPU time of the loop thread."""
    runtime = Runtime.from_export(chain_export(length), timeout_seconds=30.0)
    request = make_request({"x": "a"})
    await runtime.run("chain", request)
    await runtime.scope_captures()  # a large scope's copy is made off the loop after its first run
    for _ in range(3):
        await runtime.run("chain", request)
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.thread_time()
        response = await runtime.run("chain", request)
        cpu.append((time.thread_time() - started_cpu) * 1e6)
        wall.append((time.perf_counter() - started) * 1e6)
        assert response.status_code == 200, response.body
    return {
        "p50_us": round(statistics.median(wall), 1),
        "cpu_p50_us": round(statistics.median(cpu), 1),
        "cpu_us_per_node": round(statistics.median(cpu) / length, 2),
    }


async def _burst(name: str, count: int) -> dict[str, float]:
    """``count`` runs started together; all must answer correctly."""
    export_file, body = FUNCTIONS[name]
    runtime = _runtime(export_file)
    request = make_request(body)
    await runtime.run(name, request)
    started = time.perf_counter()
    responses = await asyncio.gather(*(runtime.run(name, request) for _ in range(count)))
    wall = time.perf_counter() - started
    assert all(r.status_code == 200 for r in responses)
    return {
        "wall_ms": round(wall * 1000, 1),
        "us_per_run": round(wall * 1e6 / count, 1),
        "peak_rss_mib": _peak_rss_mib(),
    }


async def _in_flight(count: int, wait_seconds: float) -> dict[str, float]:
    """``count`` runs that never respond, all waiting on their timeout timer at the same time."""
    runtime = _runtime("h_runtasks.export.json", timeout_seconds=wait_seconds)
    request = make_request({"items": []})
    started = time.perf_counter()
    responses = await asyncio.gather(*(runtime.run("runtasks", request) for _ in range(count)))
    wall = time.perf_counter() - started
    assert all(r.status_code == 504 for r in responses)
    return {"wall_ms": round(wall * 1000, 1), "peak_rss_mib": _peak_rss_mib()}


async def _bench(quick: bool) -> dict[str, object]:
    settle_collector()  # the collector as a started sidecar sets it (the chains varied 40-93 ms without)
    runs, warmup = (200, 50) if quick else (2_000, 200)
    figures: dict[str, object] = {"rss_at_start_mib": _peak_rss_mib()}
    figures["latency"] = {name: await _latency(name, runs, warmup) for name in FUNCTIONS}
    figures["chain"] = {
        str(length): await _chain(length, max(5, (20 if quick else 200) * 100 // max(length, 100)))
        for length in (CHAIN_LENGTHS[:3] if quick else CHAIN_LENGTHS)
    }
    gc.collect()
    figures["concurrent_1000"] = {
        name: await _burst(name, 1_000) for name in (("echo",) if quick else ("echo", "sum3", "runtasks"))
    }
    if not quick:
        figures["concurrent_10000_echo"] = await _burst("echo", 10_000)
    figures["in_flight_waiting"] = await _in_flight(1_000 if quick else 10_000, 0.5 if quick else 2.0)
    # Thousands of live runs make CPython's default GC thresholds rescan them often; the figures
    # below use the setting recommended for the server process (see the runtime's notes).
    default_thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        tuned = {"concurrent_1000_echo": await _burst("echo", 1_000)}
        if not quick:
            tuned["concurrent_1000_sum3"] = await _burst("sum3", 1_000)
            tuned["concurrent_10000_echo"] = await _burst("echo", 10_000)
        figures[f"gc_threshold_{GC_THRESHOLDS[0]}"] = tuned
    finally:
        gc.set_threshold(*default_thresholds)
    return figures


def run(quick: bool) -> dict[str, object]:
    return asyncio.run(_bench(quick))


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run(quick=False), indent=2) + "\n")
