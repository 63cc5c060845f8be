"""Child process for the memory-limit sweep: scripts that exhaust the JS heap, at many limits.

Where a heap runs out decides which of the engine's allocations fails first; some of those paths
crashed the whole process in older QuickJS builds. A child process turns such a crash into a failed
test instead of a dead test run. Prints one line per run: ``<limit> <status> <body>``.
Run as ``python -m tests.runtime.memory_hog_child <lowest> <highest> <step>`` (bytes).
"""

from __future__ import annotations

import asyncio
import sys

from sidecar import logs
from sidecar.runtime import JsEngine, JsLimits
from tests.runtime.graphs import conn, function_node, response_node, run_graph

HOG_SCRIPTS = (
    "const a = []; while (true) a.push({ n: a.length });",
    "const a = []; while (true) a.push(new Array(100000).fill(1));",
    "let s = 'x'; const a = []; while (true) { s += 'y'; a.push(s); }",
    "const m = new Map(); while (true) m.set(m.size, [m.size, String(m.size)]);",
)
FINE_SCRIPT = "Outputs.x = 40 + 2; Outputs.Done();"


async def sweep(lowest: int, highest: int, step: int) -> None:
    run_then_send = [conn("req", "receive", "fn", "run"), conn("fn", "out-Done", "resp", "send")]
    with_output = [*run_then_send, conn("fn", "out-x", "resp", "pm-x")]
    for limit in range(lowest, highest + 1, step):
        engine = JsEngine(JsLimits(memory_bytes=limit))
        for script in HOG_SCRIPTS:
            hog = function_node(script)
            status, body = await run_graph([hog, response_node()], run_then_send, js=engine)
            print(limit, status, body, flush=True)
        # The engine that ran out of memory still serves the next run.
        fine = function_node(FINE_SCRIPT, outputs=("x",))
        status, body = await run_graph([fine, response_node()], with_output, js=engine)
        print(limit, status, body, flush=True)


if __name__ == "__main__":
    logs.configure("error")  # stdout carries only the results
    asyncio.run(sweep(*(int(argument) for argument in sys.argv[1:4])))
