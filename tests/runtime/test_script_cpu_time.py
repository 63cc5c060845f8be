"""A script's limits count the time it computes, not time its process waited for a core.

On a loaded machine the sidecar can be off the CPU for tens of milliseconds in the middle of a quick
script; the engine's own limit is process CPU time, and the promise-job deadline must be too, or an
awaiting Function fails with a time-limit error it never reached.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from sidecar.runtime import JsEngine, JsLimits
from sidecar.runtime import jsengine as jsengine_module
from tests.runtime.graphs import conn, function_node, response_node, run_graph

AWAITING = (
    "await Promise.resolve(); await new Promise((resolve) => resolve()); Outputs.x = 'done'; Outputs.Done();"
)


def _wall_clock_leaping(seconds_per_read: float) -> Any:
    """``time`` as jsengine sees it, with a wall clock that jumps at every read (a starved process)."""
    leaped = [0.0]

    def perf_counter() -> float:
        leaped[0] += seconds_per_read
        return time.perf_counter() + leaped[0]

    return SimpleNamespace(perf_counter=perf_counter, process_time=time.process_time)


async def test_an_awaiting_script_is_not_failed_for_wall_time_it_did_not_compute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(jsengine_module, "time", _wall_clock_leaping(1.0))
    engine = JsEngine(JsLimits(call_seconds=0.5, run_seconds=30))
    nodes = [function_node(AWAITING, outputs=("x",)), response_node(params="x")]
    connections = [
        conn("req", "receive", "fn", "run"),
        conn("fn", "out-x", "resp", "pm-x"),
        conn("fn", "out-Done", "resp", "send"),
    ]

    answer = await run_graph(nodes, connections, js=engine, timeout_seconds=5)

    assert answer == (200, '{"result":{"x":"done"}}')


async def test_an_endless_chain_of_promise_jobs_still_hits_the_time_limit() -> None:
    engine = JsEngine(JsLimits(call_seconds=0.1, run_seconds=0.2))
    script = "const spin = () => Promise.resolve().then(spin); spin(); await new Promise(() => {});"
    nodes = [function_node(script), response_node()]
    connections = [conn("req", "receive", "fn", "run"), conn("fn", "out-Done", "resp", "send")]

    started = time.monotonic()
    status, body = await run_graph(nodes, connections, js=engine, timeout_seconds=5)

    assert time.monotonic() - started < 2.0
    assert (status, body) == (500, '{"error":"script exceeded its time limit"}')
