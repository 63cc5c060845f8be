"""``console`` inside Function and Expression code: each call is a log line of the node's step (level,
time, text as Node's util.format gives it), limited per run, and no line reaches another run."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog.testing

from sidecar.runtime import Runtime, make_request
from sidecar.runtime.context import CONSOLE_KEY
from tests.runtime.graphs import component, conn, export, node, request_node, response_node, tagged_function
from tests.runtime.test_recorder import ListRecorder


def logging_graph(script: str) -> dict[str, Any]:
    return tagged_function("logs", script)


def console_lines(recorder: ListRecorder, node_id: str = "fn") -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for call in recorder.calls:
        if call[0] == "node_finished" and call[1] == node_id:
            lines += call[3].get(CONSOLE_KEY, [])
    return lines


async def run_recorded(runtime: Runtime, body: dict[str, Any]) -> tuple[Any, ListRecorder]:
    recorder = ListRecorder()
    response = await runtime.run("logs", make_request(body), recorder=recorder)
    return response, recorder


async def test_console_calls_answer_and_become_lines_of_the_functions_step() -> None:
    script = (
        "console.log('tag', Inputs.tag, {a: 1}, [1, 2]);\n"
        "console.info('%s has %d items', 'cart', 3);\n"
        "console.warn(undefined, null, 5);\n"
        "console.error(new Error('bad').message);\n"
        "console.debug('%j and %%', {b: 'c'});\n"
        "Outputs.out = 'ok'; Outputs.Done();\n"
    )
    response, recorder = await run_recorded(Runtime.from_export(logging_graph(script)), {"tag": "x"})

    assert response.status_code == 200
    assert json.loads(response.body) == {"result": {"out": "ok"}}
    lines = console_lines(recorder)
    assert [(line["level"], line["text"]) for line in lines] == [
        ("info", 'tag x {"a":1} [1,2]'),
        ("info", "cart has 3 items"),
        ("warn", "undefined null 5"),
        ("error", "bad"),
        ("debug", '{"b":"c"} and %'),
    ]
    assert all(isinstance(line["time"], int) and line["time"] > 1_600_000_000_000 for line in lines)


async def test_console_lines_are_limited_in_count_and_size_per_run() -> None:
    script = "for (let i = 0; i < 150; i++) console.log('x'.repeat(5000)); Outputs.Done();"
    response, recorder = await run_recorded(Runtime.from_export(logging_graph(script)), {})

    assert response.status_code == 200
    lines = console_lines(recorder)
    assert len(lines) == 101  # 100 lines, then one saying that more were dropped
    assert all(len(line["text"]) <= 2048 for line in lines)
    assert "dropped" in lines[-1]["text"]


async def test_console_in_an_expression_is_a_line_of_the_expression_step() -> None:
    graph = export(
        component(
            "logs",
            [
                request_node(params="tag"),
                node("expr", "Expression", {"expression": "(console.log('seen', tag), tag + '!')"}),
                response_node(params="out"),
            ],
            [
                conn("req", "pm-tag", "expr", "tag"),
                conn("expr", "result", "resp", "pm-out"),
                conn("req", "receive", "resp", "send"),
            ],
        )
    )
    response, recorder = await run_recorded(Runtime.from_export(graph), {"tag": "y"})

    assert json.loads(response.body) == {"result": {"out": "y!"}}
    assert [line["text"] for line in console_lines(recorder, "expr")] == ["seen y"]


async def test_concurrent_runs_keep_their_own_console_lines() -> None:
    script = (
        "console.log('start', Inputs.tag);\n"
        "await Promise.resolve();\n"
        "console.log('end', Inputs.tag);\n"
        "Outputs.out = Inputs.tag; Outputs.Done();\n"
    )
    runtime = Runtime.from_export(logging_graph(script))
    results = await asyncio.gather(*(run_recorded(runtime, {"tag": f"t{i}"}) for i in range(12)))

    for i, (response, recorder) in enumerate(results):
        assert json.loads(response.body) == {"result": {"out": f"t{i}"}}
        assert [line["text"] for line in console_lines(recorder)] == [f"start t{i}", f"end t{i}"]


async def test_console_lines_go_to_structlog_at_debug_with_the_node() -> None:
    with structlog.testing.capture_logs() as captured:
        response, _ = await run_recorded(
            Runtime.from_export(logging_graph("console.error('oops'); Outputs.Done();")), {}
        )

    assert response.status_code == 200
    lines = [entry for entry in captured if entry["event"] == "script console"]
    assert [(e["log_level"], e["level"], e["text"], e["node_id"]) for e in lines] == [
        ("debug", "error", "oops", "fn")
    ]
