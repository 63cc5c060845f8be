"""The Python runtime: a trivial Python Function run, HTTP against the JavaScript twin, 1,000 concurrent
runs, and the memory of an idle worker.

- ``trivial_run``: request → Python Function (one output, one signal) → response, in process, one run
  at a time through a warm pool; per-run latency (the worker round trip is a msgpack map each way
  over a pipe).
- ``http_at_20_clients``: the same workflow served by a real ``serve`` process under ``wrk``, next to
  the same workflow with a JavaScript Function; the ratio is Python's calls/s over JavaScript's.
- ``concurrent_1000``: 1,000 runs started at once on the default pool (two workers).
- ``idle_worker_rss_mib``: resident memory of a started worker that has answered one call.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the "_" helper modules beside the suites
sys.path.insert(0, str(HERE.parent.parent))
from _http_load import serve, wrk, wrk_missing  # noqa: E402


def _node(node_id: str, kind: str, parameters: dict[str, Any], ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "parameters": parameters, "ports": ports, "children": []}


def _link(source: str, out: str, target: str, into: str) -> dict[str, str]:
    return {"sourceId": source, "sourcePort": out, "targetId": target, "targetPort": into}


def echo_export(language: str) -> dict[str, Any]:
    """``echo-<language>``: the request's ``a`` through a Function of ``language`` (``x = a + 1``) to
    the response."""
    if language == "python":
        code = _node(
            "fn",
            "PythonFunction",
            {"script": "outputs['x'] = inputs['a'] + 1\nsend_signal('done')\n"},
            [
                {"name": "out-x", "plug": "output", "type": "*"},
                {"name": "out-done", "plug": "output", "type": "signal"},
            ],
        )
        done = "out-done"
    else:
        code = _node(
            "fn",
            "JavaScriptFunction",
            {"functionScript": "Outputs.x = Inputs.a + 1; Outputs.Done();"},
            [
                {"name": "out-x", "plug": "output", "type": "*"},
                {"name": "out-Done", "plug": "output", "type": "signal"},
            ],
        )
        done = "out-Done"
    return {
        "settings": {},
        "metadata": {},
        "components": [
            {
                "name": f"/#__cloud__/echo-{language}",
                "metadata": {"language": language},
                "ports": [],
                "roots": [],
                "nodes": [
                    _node("req", "noodl.cloud.request", {"allowNoAuth": True, "params": "a"}, []),
                    code,
                    _node("resp", "noodl.cloud.response", {"params": "x"}, []),
                ],
                "connections": [
                    _link("req", "pm-a", "fn", "in-a"),
                    _link("req", "receive", "fn", "run"),
                    _link("fn", "out-x", "resp", "pm-x"),
                    _link("fn", done, "resp", "send"),
                ],
            }
        ],
    }


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/statm", "rb") as statm:
        return round(int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


async def _in_process(quick: bool) -> dict[str, Any]:
    from sidecar.preload import settle_collector
    from sidecar.python_runtime import PythonPool
    from sidecar.runtime import Runtime, make_request

    settle_collector()  # the collector as a started sidecar sets it
    with tempfile.TemporaryDirectory() as scratch:
        pool = PythonPool(Path(scratch))
        try:
            runtime = Runtime.from_export(echo_export("python"), python=pool)
            request = make_request({"a": 1})
            for _ in range(200):  # warm: workers started, code compiled, scope template captured
                await runtime.run("echo-python", request)
            samples = []
            for _ in range(500 if quick else 3000):
                started = time.perf_counter_ns()
                response = await runtime.run("echo-python", request)
                samples.append((time.perf_counter_ns() - started) / 1000)
                assert response.body == '{"result":{"x":2}}', response.body
            samples.sort()
            idle = [_rss_mib(worker.pid) for worker in pool._idle]
            started = time.perf_counter()
            answers = await asyncio.gather(
                *(runtime.run("echo-python", make_request({"a": n})) for n in range(1000))
            )
            concurrent = time.perf_counter() - started
            assert all(answer.status_code == 200 for answer in answers)
        finally:
            await pool.close()
    return {
        "trivial_run": {
            "runs": len(samples),
            "p50_us": round(statistics.median(samples), 1),
            "p99_us": round(samples[int(len(samples) * 0.99)], 1),
            "target_p50_us": 150,
        },
        "concurrent_1000": {"seconds": round(concurrent, 3), "workers": pool.size, "target_seconds": 1.0},
        "idle_worker_rss_mib": idle,
    }


def _http(quick: bool) -> dict[str, Any]:
    if wrk_missing():
        return {"error": "wrk is not installed (apt-get install -y wrk)"}
    seconds = 2 if quick else 6
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        with serve(work / "backend_pybench") as backend:
            for language in ("javascript", "python"):
                url = backend.deploy(f"echo-{language}", echo_export(language))
                wrk(url, backend, '{"a": 1}', 1, 4, work)  # warm-up
                figures[language] = wrk(url, backend, '{"a": 1}', seconds, 20, work)
    js, py = figures["javascript"]["calls_per_s"], figures["python"]["calls_per_s"]
    figures["python_over_javascript"] = round(py / js, 3) if js and py else None
    figures["target_ratio"] = 0.8
    return figures


def run(quick: bool) -> dict[str, Any]:
    figures = asyncio.run(_in_process(quick))
    figures["http_at_20_clients"] = _http(quick)
    return figures


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run("--quick" in sys.argv), indent=2) + "\n")
