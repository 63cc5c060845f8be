"""Each limit stops its own run while 100 other Python runs keep answering; crashed workers are replaced."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sidecar.python_runtime import PoolLimits, PythonPool
from sidecar.runtime import Runtime, make_request
from tests.runtime.graphs import component, conn, export, node, request_node, response_node

ADD = "outputs['sum'] = inputs['a'] + inputs['b']\nsend_signal('done')\n"
OFFENDERS = {
    "wall": ("import time\ntime.sleep(30)\n", "504"),
    "cpu": ("while True:\n    pass\n", "CPU time limit (1 s)"),
    "memory": (
        "hog = []\nwhile True:\n    hog.append(bytearray(8 * 1024 * 1024))\n",
        "memory limit (256 MiB)",
    ),
}


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[PythonPool]:
    limits = PoolLimits(cpu_seconds=1, memory_bytes=256 * 1024 * 1024, wall_seconds=60)
    made = PythonPool(tmp_path / "scratch", size=3, limits=limits)
    try:
        yield made
    finally:
        await made.close()


def python_runtime(pool: PythonPool, script: str, timeout: float) -> Runtime:
    ports = [
        {"name": "out-sum", "plug": "output", "type": "*"},
        {"name": "out-done", "plug": "output", "type": "signal"},
    ]
    fn = node("fn", "PythonFunction", {"script": script}, ports=ports)
    connections = [
        conn("req", "pm-a", "fn", "in-a"),
        conn("req", "pm-b", "fn", "in-b"),
        conn("req", "receive", "fn", "run"),
        conn("fn", "out-sum", "resp", "pm-sum"),
        conn("fn", "out-done", "resp", "send"),
    ]
    graph = export(component("f", [request_node(), fn, response_node()], connections))
    return Runtime.from_export(graph, python=pool, timeout_seconds=timeout)


@pytest.mark.parametrize("limit", sorted(OFFENDERS))
async def test_a_limit_stops_its_run_while_100_other_runs_keep_answering(
    pool: PythonPool, limit: str
) -> None:
    script, reason = OFFENDERS[limit]
    offender = python_runtime(pool, script, timeout=3.0 if limit == "wall" else 30.0)
    adder = python_runtime(pool, ADD, timeout=30.0)
    await adder.run("f", make_request({"a": 0, "b": 0}))  # a warm worker, as a running backend has
    finished: dict[str, float] = {}

    async def timed(name: str, runtime: Runtime, body: dict[str, Any]) -> Any:
        response = await runtime.run("f", make_request(body))
        finished[name] = time.monotonic()
        return response

    bad = asyncio.ensure_future(timed("offender", offender, {}))
    await asyncio.sleep(0.05)  # the offender holds its worker before the others arrive
    good = await asyncio.gather(*(timed(f"run{n}", adder, {"a": n, "b": 1}) for n in range(100)))
    stopped = await bad

    assert [(r.status_code, r.body) for r in good] == [
        (200, f'{{"result":{{"sum":{n + 1}}}}}') for n in range(100)
    ]
    assert reason in (str(stopped.status_code) if reason == "504" else stopped.body)
    if limit in ("wall", "cpu"):  # the others did not wait for the offender to be stopped
        assert max(finished[f"run{n}"] for n in range(100)) < finished["offender"]
    for _ in range(100):  # a timed-out run's teardown cancels its call; the kill follows at once
        if pool.replaced:
            break
        await asyncio.sleep(0.02)
    assert pool.replaced == 1
    again = await adder.run("f", make_request({"a": 2, "b": 3}))
    assert again.body == '{"result":{"sum":5}}'


@pytest.mark.parametrize(
    ("crash", "status"),
    [
        ("import os\nos._exit(7)\n", "exit status 7"),
        ("import ctypes\nctypes.string_at(0)\n", "exit status -11"),  # SIGSEGV in C code
    ],
)
async def test_a_crashed_worker_fails_its_run_and_the_next_run_gets_a_fresh_one(
    pool: PythonPool, crash: str, status: str
) -> None:
    crashed = await python_runtime(pool, crash, timeout=20.0).run("f", make_request({}))

    assert crashed.status_code == 500
    assert f"the Python worker stopped ({status})" in crashed.body
    runs = await asyncio.gather(
        *(python_runtime(pool, ADD, timeout=20.0).run("f", make_request({"a": n, "b": n})) for n in range(10))
    )
    assert [r.body for r in runs] == [f'{{"result":{{"sum":{2 * n}}}}}' for n in range(10)]
    assert pool.replaced == 1
