"""The run contract: loading, settlement, timeouts, rejections, isolation and script limits."""

from __future__ import annotations

import asyncio
import collections
import json
import subprocess
import sys
import time
from typing import Any

import pytest

from sidecar.errors import WorkflowExportError
from sidecar.runtime import JsEngine, JsLimits, Outcome, Runtime, make_request
from tests.conftest import PROJECT_ROOT
from tests.runtime.graphs import (
    component,
    conn,
    export,
    function_node,
    node,
    request_node,
    response_node,
    run_graph,
)
from tests.runtime.memory_hog_child import HOG_SCRIPTS

SEND = conn("req", "receive", "resp", "send")


@pytest.mark.parametrize(
    ("data", "component_name", "node_id"),
    [
        ({"components": "nope"}, None, None),
        ({"components": [{"name": "/#__cloud__/f", "nodes": [{"id": "n1"}]}]}, "/#__cloud__/f", "n1"),
        (
            {
                "components": [
                    {"name": "/#__cloud__/f", "nodes": [{"id": "a", "type": "X"}, {"id": "a", "type": "Y"}]}
                ]
            },
            "/#__cloud__/f",
            "a",
        ),
        (
            {"components": [{"name": "/#__cloud__/f", "nodes": [], "connections": [{"sourceId": "a"}]}]},
            "/#__cloud__/f",
            None,
        ),
    ],
)
def test_malformed_exports_are_refused_naming_component_and_node(
    data: dict[str, Any], component_name: str | None, node_id: str | None
) -> None:
    with pytest.raises(WorkflowExportError) as caught:
        Runtime.from_export(data)
    assert caught.value.component == component_name
    assert caught.value.node == node_id
    assert caught.value.http_status == 400


def test_components_that_contain_themselves_are_refused() -> None:
    data = {
        "components": [
            {"name": "/#__cloud__/a", "nodes": [{"id": "b1", "type": "/#__cloud__/b"}]},
            {"name": "/#__cloud__/b", "nodes": [{"id": "a1", "type": "/#__cloud__/a"}]},
        ]
    }
    with pytest.raises(WorkflowExportError) as caught:
        Runtime.from_export(data)
    assert (caught.value.component, caught.value.node) == ("/#__cloud__/b", "a1")


async def test_unknown_node_types_are_dropped_with_a_warning_and_the_rest_runs() -> None:
    graph = export(
        component(
            "f",
            [request_node(), node("sw", "Switch"), response_node()],
            [conn("req", "pm-a", "resp", "pm-a"), conn("req", "receive", "sw", "flip"), SEND],
        )
    )
    runtime = Runtime.from_export(graph)

    response = await runtime.run("f", make_request({"a": 1}))

    assert runtime.warnings == ["/#__cloud__/f: node 'sw' has unknown type 'Switch'"]
    assert response.body == '{"result":{"a":1}}'


async def test_unknown_function_answers_the_local_backends_404() -> None:
    runtime = Runtime.from_export(export(component("f", [request_node()], [])))

    response = await runtime.run("nope", make_request({}))

    assert response.outcome is Outcome.NOT_FOUND
    assert (response.status_code, response.body) == (
        404,
        '{"error":"Function \'nope\' not found","code":"function/not-found"}',
    )


async def test_parameters_come_before_connections_in_result_key_order() -> None:
    nodes = [response_node(**{"pm-fixed": "p"})]
    assert await run_graph(nodes, [conn("req", "pm-x", "resp", "pm-x"), SEND], {"x": 1}) == (
        200,
        '{"result":{"fixed":"p","x":1}}',
    )


async def test_body_keys_follow_javascript_for_in_order_and_arrays_give_index_ports() -> None:
    connections = [conn("req", "pm-b", "resp", "pm-b"), conn("req", "pm-1", "resp", "pm-1"), SEND]
    # Integer-like keys are delivered first, so "1" takes its result position before "b".
    assert await run_graph([response_node()], connections, {"b": 2, "1": "one"}) == (
        200,
        '{"result":{"1":"one","b":2}}',
    )
    assert await run_graph(
        [response_node()], [conn("req", "pm-1", "resp", "pm-second"), SEND], ["x", "y"]
    ) == (
        200,
        '{"result":{"second":"y"}}',
    )


async def test_failure_status_without_message_answers_empty_object() -> None:
    assert await run_graph([response_node(status="failure")], [SEND]) == (400, "{}")


async def test_first_response_wins_in_connection_order() -> None:
    nodes = [response_node("second", **{"pm-who": "second"}), response_node("first", **{"pm-who": "first"})]
    connections = [conn("req", "receive", "first", "send"), conn("req", "receive", "second", "send")]
    assert await run_graph(nodes, connections) == (200, '{"result":{"who":"first"}}')


async def test_unauthenticated_requests_are_rejected_unless_allowed() -> None:
    graph = export(component("f", [node("req", "noodl.cloud.request"), response_node()], [SEND]))

    response = await Runtime.from_export(graph).run("f", make_request({}))

    assert response.outcome is Outcome.REJECTED
    assert (response.status_code, response.body) == (
        500,
        '{"error":"Unauthenticated requests not accepted."}',
    )


async def test_a_function_without_request_node_is_rejected() -> None:
    response = await Runtime.from_export(export(component("f", [response_node()], []))).run(
        "f", make_request({})
    )

    assert response.body == '{"error":"Could not find request node for function"}'


async def test_no_response_answers_504_function_timeout() -> None:
    graph = export(component("f", [request_node(), response_node()], []))

    response = await Runtime.from_export(graph, timeout_seconds=0.05).run("f", make_request({}))

    assert response.outcome is Outcome.TIMED_OUT
    body = json.loads(response.body)
    assert response.status_code == 504
    assert (body["code"], body["function"], body["timeoutMs"]) == ("function/timeout", "f", 50)
    assert body["error"].startswith('Cloud function "f" did not send a response within 50ms')


async def test_a_script_that_throws_is_logged_and_the_run_ends_by_timeout() -> None:
    nodes = [function_node("throw new Error('boom')"), response_node()]
    connections = [conn("req", "receive", "fn", "run"), conn("fn", "out-Done", "resp", "send")]

    status, body = await run_graph(nodes, connections, timeout_seconds=0.1)

    assert status == 504
    assert '"code":"function/timeout"' in body


@pytest.mark.parametrize(
    "script",
    [
        "throw null",
        "throw undefined",
        "await 0; throw null",
        "await Promise.reject(null)",
        "return Promise.reject(null)",
    ],
)
async def test_a_thrown_null_is_an_ordinary_error_not_the_memory_limit(script: str) -> None:
    """QuickJS's own out-of-memory null is told apart from a script's: this one can throw or reject."""
    nodes = [function_node(script), response_node()]
    connections = [conn("req", "receive", "fn", "run"), conn("fn", "out-Done", "resp", "send")]

    status, body = await run_graph(nodes, connections, timeout_seconds=0.1)

    assert status == 504, body  # logged, and the run ends by timeout as after any throw
    assert '"code":"function/timeout"' in body


async def test_infinite_loops_hit_the_time_limit_and_fail_the_run_quickly() -> None:
    engine = JsEngine(JsLimits(call_seconds=0.1, run_seconds=0.2))
    nodes = [function_node("while (true) {}"), response_node()]
    connections = [conn("req", "receive", "fn", "run"), conn("fn", "out-Done", "resp", "send")]

    started = time.monotonic()
    status, body = await run_graph(nodes, connections, js=engine, timeout_seconds=5)

    assert time.monotonic() - started < 1.0
    assert (status, body) == (500, '{"error":"script exceeded its time limit"}')


async def test_unbounded_allocation_hits_the_memory_limit_and_the_engine_recovers() -> None:
    engine = JsEngine(JsLimits(memory_bytes=32 * 1024 * 1024))
    hog = function_node("const a = []; while (true) a.push(new Array(100000).fill(1));")
    connections = [conn("req", "receive", "fn", "run"), conn("fn", "out-Done", "resp", "send")]

    assert await run_graph([hog, response_node()], connections, js=engine) == (
        500,
        '{"error":"script exceeded the memory limit"}',
    )
    fine = function_node("Outputs.x = 1 + 1; Outputs.Done();", outputs=("x",))
    ok_connections = [*connections[:1], conn("fn", "out-x", "resp", "pm-x"), connections[1]]
    assert await run_graph([fine, response_node()], ok_connections, js=engine) == (200, '{"result":{"x":2}}')


async def test_a_script_filling_memory_with_small_objects_hits_the_memory_limit() -> None:
    # QuickJS may then lack the memory for its own "out of memory" error and throw null instead.
    engine = JsEngine(JsLimits(memory_bytes=16 * 1024 * 1024))
    connections = [conn("req", "receive", "fn", "run"), conn("fn", "out-Done", "resp", "send")]
    for hog_script in (
        "const a = []; while (true) a.push({ n: a.length });",
        "const a = []; while (true) a.push(new Array(100000).fill(1));",
        "let s = 'x'; const a = []; while (true) { s += 'y'; a.push(s); }",
    ):
        hog = function_node(hog_script)
        assert await run_graph([hog, response_node()], connections, js=engine) == (
            500,
            '{"error":"script exceeded the memory limit"}',
        ), hog_script


def test_running_out_of_memory_anywhere_fails_the_run_and_never_the_process() -> None:
    # Sweep the heap limit so each hog runs out at a different allocation inside the engine.
    lowest, highest, step = 1_000_000, 4_000_000, 25_000
    child = subprocess.run(
        [sys.executable, "-m", "tests.runtime.memory_hog_child", str(lowest), str(highest), str(step)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    answers = collections.Counter(line.split(" ", 1)[1] for line in child.stdout.splitlines())
    limits = (highest - lowest) // step + 1
    assert answers == {
        '500 {"error":"script exceeded the memory limit"}': limits * len(HOG_SCRIPTS),
        '200 {"result":{"x":42}}': limits,
    }


async def test_array_methods_that_loop_in_c_refuse_lengths_no_real_array_has() -> None:
    # QuickJS checks the time limit only between JS steps: these loops would otherwise run for minutes.
    script = """
    const huge = new Array(2 ** 32 - 1);
    const arrayLike = { length: 2 ** 53 - 1 };
    const attempts = [
      () => huge.join(""), () => String(huge), () => huge.slice(), () => huge.sort((a, b) => a - b),
      () => huge.reverse(), () => [huge].flat(), () => [].concat(huge),
      () => Array.prototype.splice.call(arrayLike, 0, 1), () => Array.prototype.shift.call(arrayLike),
      () => Array.prototype.unshift.call(arrayLike, 1),
      () => Array.prototype.copyWithin.call(arrayLike, 0, 1),
      () => Array.prototype.toLocaleString.call(arrayLike),
    ];
    Outputs.errors = attempts.map((attempt) => {
      try { attempt(); return "finished"; } catch (e) { return e.name; }
    });
    Outputs.usual = [
      [3, 1, 2].sort().join("-"), [1, [2, [3]]].flat(Infinity), [1].concat([2], 3),
      "abc".split("").reverse().join(""),
    ];
    Outputs.Done();
    """
    nodes = [function_node(script, outputs=("errors", "usual")), response_node()]
    connections = [
        conn("req", "receive", "fn", "run"),
        conn("fn", "out-errors", "resp", "pm-errors"),
        conn("fn", "out-usual", "resp", "pm-usual"),
        conn("fn", "out-Done", "resp", "send"),
    ]
    started = time.monotonic()
    status, body = await run_graph(nodes, connections, timeout_seconds=30)
    assert time.monotonic() - started < 5  # without the guard: minutes
    assert status == 200
    assert json.loads(body) == {
        "result": {"errors": ["RangeError"] * 12, "usual": ["1-2-3", [1, 2, 3], [1, 2, 3], "cba"]}
    }


async def test_scripts_have_no_file_system_or_network() -> None:
    # `fetch` exists, but goes through the backend's HTTP client (tests/runtime/test_js_fetch.py);
    # `process` exists as in Node, but shows no environment and has no way to the host.
    script = (
        "Outputs.kinds = [typeof require, typeof std, typeof os, typeof XMLHttpRequest,"
        " typeof process.binding,"
        " typeof process.dlopen, Object.keys(process.env).length];\n"
        "Outputs.Done();"
    )
    nodes = [function_node(script, outputs=("kinds",)), response_node()]
    connections = [
        conn("req", "receive", "fn", "run"),
        conn("fn", "out-kinds", "resp", "pm-kinds"),
        conn("fn", "out-Done", "resp", "send"),
    ]
    assert await run_graph(nodes, connections) == (
        200,
        '{"result":{"kinds":["undefined","undefined","undefined","undefined","undefined","undefined",0]}}',
    )


async def test_concurrent_runs_are_isolated() -> None:
    script = (
        "Noodl.Objects.shared.n = (Noodl.Objects.shared.n || 0) + Inputs.v;\n"
        "Outputs.n = Noodl.Objects.shared.n;\n"
        "Outputs.Done();"
    )
    graph = export(
        component(
            "f",
            [request_node(), function_node(script, outputs=("n",)), response_node()],
            [
                conn("req", "pm-v", "fn", "in-v"),
                conn("req", "receive", "fn", "run"),
                conn("fn", "out-n", "resp", "pm-n"),
                conn("fn", "out-Done", "resp", "send"),
            ],
        )
    )
    runtime = Runtime.from_export(graph)

    responses = await asyncio.gather(*(runtime.run("f", make_request({"v": i})) for i in range(200)))

    assert [r.body for r in responses] == [f'{{"result":{{"n":{i}}}}}' for i in range(200)]


async def test_cancelling_the_caller_tears_the_run_down() -> None:
    graph = export(component("f", [request_node(), response_node()], []))
    runtime = Runtime.from_export(graph, timeout_seconds=10)

    task = asyncio.ensure_future(runtime.run("f", make_request({})))
    await asyncio.sleep(0.01)
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_graph_that_loops_forever_yields_between_frames_and_times_out() -> None:
    # Counter's Count Changed feeds its own Increase: the cyclic guard stops it after 100 iterations
    # per frame and resumes next frame, so other runs keep being served meanwhile (spec R2, #25).
    loop_graph = export(
        component(
            "spin",
            [request_node(), node("count", "Counter"), response_node()],
            [conn("req", "receive", "count", "increase"), conn("count", "countChanged", "count", "increase")],
        ),
        component("echo", [request_node(), response_node()], [conn("req", "pm-a", "resp", "pm-a"), SEND]),
    )
    runtime = Runtime.from_export(loop_graph, timeout_seconds=0.3)

    spinning = asyncio.ensure_future(runtime.run("spin", make_request({})))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    echoed = await runtime.run("echo", make_request({"a": 1}))

    assert time.monotonic() - started < 0.1
    assert echoed.body == '{"result":{"a":1}}'
    assert (await spinning).outcome is Outcome.TIMED_OUT


async def test_an_unpaired_surrogate_reaches_scripts_and_comes_back_as_javascript_would_send_it() -> None:
    """JSON may carry "\\ud800", which crashes the QuickJS binding: it must never get such a string raw."""
    function = function_node(
        "Outputs.text = Inputs.name + '!'; Outputs.size = Inputs.name.length; Outputs.Done();",
        outputs=("text", "size"),
    )
    function["ports"].append({"name": "in-name", "plug": "input", "type": "*"})
    expression = node("expr", "Expression", {"expression": "name + '?'"})
    nodes = [function, expression, response_node(params="text,size,asked")]
    connections = [
        conn("req", "receive", "fn", "run"),
        conn("req", "pm-name", "fn", "in-name"),
        conn("req", "pm-name", "expr", "name"),
        conn("fn", "out-text", "resp", "pm-text"),
        conn("fn", "out-size", "resp", "pm-size"),
        conn("expr", "result", "resp", "pm-asked"),
        conn("fn", "out-Done", "resp", "send"),
    ]

    status, body = await run_graph(nodes, connections, '{"name": "a\\ud800"}')

    assert status == 200
    assert json.loads(body) == {"result": {"text": "a\ud800!", "size": 2, "asked": "a\ud800?"}}


async def test_a_nul_character_survives_the_trip_through_the_engine() -> None:
    """The binding ends strings at NUL; such strings must travel as JSON both ways."""
    nodes = [
        node("in", "Expression", {"expression": "name + '|' + name.length"}),
        node("out", "Expression", {"expression": "'p\\u0000q'"}),
        response_node(params="inside,made"),
    ]
    connections = [
        conn("req", "pm-name", "in", "name"),
        conn("in", "result", "resp", "pm-inside"),
        conn("out", "result", "resp", "pm-made"),
        conn("req", "receive", "resp", "send"),
    ]
    status, body = await run_graph(nodes, connections, {"name": "a\u0000b"})
    assert status == 200
    assert json.loads(body) == {"result": {"inside": "a\u0000b|3", "made": "p\u0000q"}}
