"""Timers in Function code run on the event loop: ``await new Promise(r => setTimeout(r, ms))``
works, intervals repeat until cleared, and nothing of a run stays scheduled once it has ended."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from sidecar.runtime import Runtime, make_request
from tests.runtime.graphs import tagged_function


def timer_graph(script: str) -> dict[str, Any]:
    return tagged_function("timers", script)


def pending_timers() -> list[asyncio.TimerHandle]:
    loop: Any = asyncio.get_running_loop()
    return [handle for handle in loop._scheduled if not handle.cancelled()]


async def answer(runtime: Runtime, body: dict[str, Any]) -> Any:
    response = await runtime.run("timers", make_request(body))
    assert response.status_code == 200, response.body
    return json.loads(response.body)["result"]["out"]


async def test_awaiting_a_timer_waits_its_delay_then_goes_on() -> None:
    script = (
        "const started = Date.now();\n"
        "await new Promise(r => setTimeout(r, 30));\n"
        "Outputs.out = Date.now() - started; Outputs.Done();\n"
    )
    runtime = Runtime.from_export(timer_graph(script))
    began = time.perf_counter()
    waited = await answer(runtime, {})
    assert waited >= 29
    assert time.perf_counter() - began >= 0.029


async def test_timeouts_pass_arguments_fire_in_order_and_can_be_cleared() -> None:
    script = (
        "const seen = [];\n"
        "setTimeout((a, b) => seen.push(a + b), 20, 'late', '!');\n"
        "const dropped = setTimeout(() => seen.push('cleared'), 5);\n"
        "setTimeout(() => seen.push('early'), 1);\n"
        "queueMicrotask(() => seen.push('micro'));\n"
        "clearTimeout(dropped);\n"
        "await new Promise(r => setTimeout(r, 40));\n"
        "Outputs.out = seen; Outputs.Done();\n"
    )
    assert await answer(Runtime.from_export(timer_graph(script)), {}) == ["micro", "early", "late!"]


async def test_an_interval_repeats_until_cleared() -> None:
    script = (
        "let ticks = 0;\n"
        "await new Promise(resolve => {\n"
        "  const id = setInterval(() => {\n"
        "    ticks++; if (ticks === 3) { clearInterval(id); resolve(); }\n"
        "  }, 2);\n"
        "});\n"
        "await new Promise(r => setTimeout(r, 15));\n"
        "Outputs.out = ticks; Outputs.Done();\n"
    )
    assert await answer(Runtime.from_export(timer_graph(script)), {}) == 3


async def test_timers_of_concurrent_runs_stay_in_their_run() -> None:
    script = (
        "await new Promise(r => setTimeout(r, 5 + Math.floor(Math.random() * 20)));\n"
        "Outputs.out = Inputs.tag; Outputs.Done();\n"
    )
    runtime = Runtime.from_export(timer_graph(script))
    outs = await asyncio.gather(*(answer(runtime, {"tag": f"t{i}"}) for i in range(16)))
    assert outs == [f"t{i}" for i in range(16)]


async def test_nothing_stays_scheduled_after_a_run_answers_or_times_out() -> None:
    before = len(pending_timers())
    answered = "setTimeout(() => {}, 60000); setInterval(() => {}, 5); Outputs.out = 1; Outputs.Done();"
    assert await answer(Runtime.from_export(timer_graph(answered)), {}) == 1
    assert len(pending_timers()) == before

    never = "setInterval(() => {}, 3); setTimeout(() => {}, 60000);"  # never signals: the run times out
    response = await Runtime.from_export(timer_graph(never), timeout_seconds=0.05).run(
        "timers", make_request({})
    )
    assert response.status_code == 504
    await asyncio.sleep(0.01)
    assert len(pending_timers()) == before


async def test_a_run_cannot_replace_console_or_timers_for_later_runs() -> None:
    script = (
        "try { console.log = () => {}; } catch (e) {}\n"
        "try { globalThis.setTimeout = (f) => f(); } catch (e) {}\n"
        "const started = Date.now();\n"
        "await new Promise(r => setTimeout(r, 20));\n"
        "Outputs.out = Date.now() - started >= 19 && typeof console.log === 'function'; Outputs.Done();\n"
    )
    runtime = Runtime.from_export(timer_graph(script))
    for _ in range(25):  # past the runs after which contexts are reused on the loop thread
        assert await answer(runtime, {}) is True
