"""Workflow logic node figures (issue 9).

- ``for_each``: one run of a Workflow For Each over N items whose child component has 3 nodes
  (Component Inputs → Expression → Component Outputs), no history; target ≤ 1 s for 10,000 items.
  Measured one item at a time (the default) and with a concurrency limit of 100.
- ``parked_waits``: N runs started at once, each parked in a Workflow Wait; RSS growth while they
  wait and the process CPU share over a window in the middle of the wait (target ≤ 1 GB, < 5 %).

``run(quick=True)`` uses 500 items / 500 runs and short waits so the smoke test takes seconds.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import time
from typing import Any

from sidecar.runtime import Runtime, make_request
from sidecar.runtime.export import CLOUD_PREFIX

CHILD = CLOUD_PREFIX + "bench/line"


def _node(node_id: str, node_type: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "parameters": parameters or {}, "ports": [], "children": []}


def _wire(source: str, source_port: str, target: str, target_port: str) -> dict[str, str]:
    return {"sourceId": source, "sourcePort": source_port, "targetId": target, "targetPort": target_port}


def _function(name: str, nodes: list[dict[str, Any]], wires: list[dict[str, str]]) -> dict[str, Any]:
    request = _node("req", "noodl.cloud.request", {"allowNoAuth": True})
    response = _node("resp", "noodl.cloud.response")
    return {
        "name": CLOUD_PREFIX + name,
        "ports": [],
        "roots": [],
        "nodes": [request, response, *nodes],
        "connections": wires,
    }


def _child() -> dict[str, Any]:
    ports = [
        {"name": "Do", "plug": "input", "type": "signal"},
        {"name": "currentItem", "plug": "input", "type": "*"},
        {"name": "result", "plug": "output", "type": "*"},
        {"name": "Success", "plug": "output", "type": "signal"},
    ]
    nodes = [
        _node("in", "Component Inputs"),
        _node("calc", "Expression", {"expression": "currentItem * 2"}),
        _node("out", "Component Outputs"),
    ]
    wires = [
        _wire("in", "currentItem", "calc", "currentItem"),
        _wire("in", "Do", "calc", "run"),
        _wire("calc", "result", "out", "result"),
        _wire("calc", "isTrueEv", "out", "Success"),
        _wire("calc", "isFalseEv", "out", "Success"),
    ]
    return {"name": CHILD, "ports": ports, "roots": [], "nodes": nodes, "connections": wires}


def _export() -> dict[str, Any]:
    loop = _node("loop", "Workflow For Each", {"template": CHILD})
    loop_wires = [
        _wire("req", "pm-items", "loop", "items"),
        _wire("req", "pm-concurrency", "loop", "concurrency"),
        _wire("req", "receive", "loop", "run"),
        _wire("loop", "failedCount", "resp", "pm-failed"),
        _wire("loop", "completed", "resp", "send"),
    ]
    wait = _node("wait", "Workflow Wait", {"unit": "ms"})
    wait_wires = [
        _wire("req", "pm-ms", "wait", "duration"),
        _wire("req", "receive", "wait", "run"),
        _wire("wait", "done", "resp", "send"),
    ]
    return {
        "settings": {},
        "metadata": {},
        "components": [
            _function("loop", [loop], loop_wires),
            _function("wait", [wait], wait_wires),
            _child(),
        ],
    }


def _rss_mib() -> float:
    with open(f"/proc/{os.getpid()}/statm", encoding="ascii") as statm:
        pages = int(statm.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _for_each(runtime: Runtime, items: int, concurrency: int) -> dict[str, float]:
    request = make_request({"items": list(range(1, items + 1)), "concurrency": concurrency})
    started = time.perf_counter()
    response = await runtime.run("loop", request, timeout_seconds=120)
    seconds = time.perf_counter() - started
    assert response.status_code == 200, response.body
    assert '"failed":0' in response.body, response.body
    return {"items": items, "concurrency": concurrency, "seconds": round(seconds, 3)}


async def _parked_waits(runtime: Runtime, runs: int, wait_ms: int) -> dict[str, float]:
    gc.collect()
    rss_before = _rss_mib()
    request = make_request({"ms": wait_ms})
    started = time.perf_counter()
    pending = [
        asyncio.ensure_future(runtime.run("wait", request, timeout_seconds=wait_ms / 1000 + 60))
        for _ in range(runs)
    ]
    await asyncio.sleep(wait_ms * 0.3 / 1000)  # every run has started and parked by now
    parked_at = time.perf_counter()
    rss_parked = _rss_mib()
    cpu_before = _cpu_seconds()
    await asyncio.sleep(wait_ms * 0.4 / 1000)  # a window in the middle of the wait
    window = time.perf_counter() - parked_at
    cpu_share = (_cpu_seconds() - cpu_before) / window
    responses = await asyncio.gather(*pending)
    assert all(r.status_code == 200 for r in responses)
    return {
        "runs": runs,
        "wait_ms": wait_ms,
        "rss_growth_mib": round(rss_parked - rss_before, 1),
        "rss_mib": rss_parked,
        "cpu_percent_while_waiting": round(cpu_share * 100, 2),
        "total_seconds": round(time.perf_counter() - started, 3),
    }


async def _bench(quick: bool) -> dict[str, object]:
    runtime = Runtime.from_export(_export())
    items = 500 if quick else 10_000
    await _for_each(runtime, 50, 1)  # warm the expression cache and imports
    for_each = [await _for_each(runtime, items, 1), await _for_each(runtime, items, 100)]
    parked = await _parked_waits(runtime, 500 if quick else 10_000, 600 if quick else 10_000)
    return {"for_each": for_each, "parked_waits": parked}


def run(quick: bool) -> dict[str, object]:
    return asyncio.run(_bench(quick))
