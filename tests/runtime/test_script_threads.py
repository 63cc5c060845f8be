"""Scripts and the event loop: a script never holds the loop for more than the stretch (50 ms), and
a function whose scripts have always been quick skips the round trip to a worker thread."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from sidecar.runtime import JsEngine, JsLimits, Runtime, make_request
from sidecar.runtime.jsengine import QUICK_RUNS_BEFORE_INLINE, stretch_message
from tests.runtime.graphs import component, conn, export, node, request_node, response_node

SPIN = "if (Inputs.spin) { const end = Date.now() + 150; while (Date.now() < end) {} }\n"


def script_node(node_id: str, script: str, outputs: tuple[str, ...] = ()) -> dict[str, Any]:
    ports = [{"name": "in-spin", "plug": "input", "type": "*"}]
    ports += [{"name": f"out-{o}", "plug": "output", "type": "*"} for o in outputs]
    ports.append({"name": "out-Done", "plug": "output", "type": "signal"})
    return node(node_id, "JavaScriptFunction", {"functionScript": script}, ports=ports)


def graph(*scripts: str) -> dict[str, Any]:
    """Function nodes run one after another; the last one's ``out`` is the answer."""
    nodes = [request_node(params="spin"), response_node(params="out")]
    connections = [conn("req", "receive", "s0", "run")]
    for i, script in enumerate(scripts):
        nodes.append(script_node(f"s{i}", script, ("out",) if i == len(scripts) - 1 else ()))
        connections.append(conn("req", "pm-spin", f"s{i}", "in-spin"))
        if i:
            connections.append(conn(f"s{i - 1}", "out-Done", f"s{i}", "run"))
    connections += [
        conn(f"s{len(scripts) - 1}", "out-out", "resp", "pm-out"),
        conn(f"s{len(scripts) - 1}", "out-Done", "resp", "send"),
    ]
    return export(component("f", nodes, connections))


async def widest_gap_while(work: Any) -> tuple[Any, float]:
    """Run ``work`` while a ticker measures the longest time the loop went without serving it."""
    gaps = [0.0]
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last - 0.005)
            last = now

    ticker = asyncio.ensure_future(tick())
    try:
        result = await work
    finally:
        done.set()
        await ticker
    return result, max(gaps)


async def quick_runs(runtime: Runtime) -> None:
    for _ in range(QUICK_RUNS_BEFORE_INLINE + 2):
        answer = await runtime.run("f", make_request({"spin": False}))
        assert answer.body == '{"result":{"out":"done"}}'


async def test_a_quick_functions_first_script_that_turns_slow_goes_on_in_a_worker() -> None:
    runtime = Runtime.from_export(
        graph(SPIN + "Outputs.out = 'done'; Outputs.Done();"), js=JsEngine(JsLimits())
    )
    await quick_runs(runtime)  # now its scripts run on the loop thread

    answer, gap = await widest_gap_while(runtime.run("f", make_request({"spin": True})))

    assert answer.body == '{"result":{"out":"done"}}'  # the 150 ms script ran to its end
    assert gap < 0.1  # on the loop at most for the stretch (50 ms), then in a worker


async def test_a_later_script_outrunning_the_stretch_on_the_loop_fails_the_run_once() -> None:
    runtime = Runtime.from_export(
        graph("Outputs.Done();", SPIN + "Outputs.out = 'done'; Outputs.Done();"), js=JsEngine(JsLimits())
    )
    await quick_runs(runtime)

    failed, gap = await widest_gap_while(runtime.run("f", make_request({"spin": True})))
    again = await runtime.run("f", make_request({"spin": True}))

    assert gap < 0.1
    assert (failed.status_code, json.loads(failed.body)) == (500, {"error": stretch_message(0.05)})
    assert again.body == '{"result":{"out":"done"}}'  # its runs now call scripts in a worker


async def test_a_spinning_script_in_a_worker_leaves_the_loop_free_and_hits_its_time_limit() -> None:
    runtime = Runtime.from_export(graph("while (true) {}"), js=JsEngine(JsLimits(call_seconds=0.3)))

    answer, gap = await widest_gap_while(runtime.run("f", make_request({})))

    assert (answer.status_code, answer.body) == (500, '{"error":"script exceeded its time limit"}')
    assert gap < 0.1
