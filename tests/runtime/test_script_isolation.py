"""Runs do not share JavaScript: what one run's scripts change (globals, built-ins, prototypes) is
never seen by a later or a concurrent run, including code that arrives as a string at an array input."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sidecar.runtime import JsEngine, Runtime, make_request
from sidecar.runtime.jsengine import is_pure_expression, may_change_builtins
from tests.runtime.graphs import component, conn, export, function_node, node, request_node, response_node

# A Run Tasks graph whose items come from the request: each item's value is appended to a log the
# response returns. A string at ``items`` is evaluated as JavaScript (as in the real runner).
_RECORD_ITEM = node(
    "record",
    "JavaScriptFunction",
    {
        "functionScript": (
            "const log = Noodl.Objects['log'];\n"
            "log.items = (log.items || []).concat([Inputs.value]);\n"
            "Outputs.Success();\n"
        )
    },
    ports=[
        {"name": "in-value", "plug": "input", "type": "*"},
        {"name": "out-Success", "plug": "output", "type": "signal"},
    ],
)
TASK = {
    "name": "/#__cloud__/lib/Record",
    "ports": [
        {"name": "Do", "type": "signal", "plug": "input"},
        {"name": "value", "type": "*", "plug": "input"},
        {"name": "Success", "type": "signal", "plug": "output"},
    ],
    "roots": [],
    "nodes": [node("ci", "Component Inputs"), _RECORD_ITEM, node("co", "Component Outputs")],
    "connections": [
        conn("ci", "value", "record", "in-value"),
        conn("ci", "Do", "record", "run"),
        conn("record", "out-Success", "co", "Success"),
    ],
}
_READ_LOG = node(
    "read",
    "JavaScriptFunction",
    {"functionScript": "Outputs.items = Noodl.Objects['log'].items || []; Outputs.Done();"},
    ports=[
        {"name": "out-items", "plug": "output", "type": "*"},
        {"name": "out-Done", "plug": "output", "type": "signal"},
    ],
)
TASKS_GRAPH = export(
    TASK,
    component(
        "tasks",
        [
            request_node(params="items"),
            node("run", "RunTasks", {"taskTemplate": "/#__cloud__/lib/Record", "maxRunningTasks": 1}),
            _READ_LOG,
            response_node(params="items"),
        ],
        [
            conn("req", "pm-items", "run", "items"),
            conn("req", "receive", "run", "run"),
            conn("run", "done", "read", "run"),
            conn("read", "out-items", "resp", "pm-items"),
            conn("read", "out-Done", "resp", "send"),
        ],
    ),
)

# The attack: the first string replaces JSON.parse (which the bridge and scripts use) with one that
# keeps every text it parses; the second reads what it kept back out through the task log.
STEAL = (
    "(function () { var parse = JSON.parse; globalThis.kept = [];"
    " JSON.parse = function (text) {"
    "   globalThis.kept.push(String(text)); return parse.apply(this, arguments); };"
    " return [{ value: 1 }]; })()"
)
READ_BACK = "(globalThis.kept || []).map(function (text) { return { value: text }; }).concat([{ value: 2 }])"


def victim_graph(script: str) -> dict[str, Any]:
    return export(
        component(
            "victim",
            [
                request_node(params="secret"),
                function_node(script, outputs=("out",)),
                response_node(params="out"),
            ],
            [
                conn("req", "pm-secret", "fn", "in-secret"),
                conn("req", "receive", "fn", "run"),
                conn("fn", "out-out", "resp", "pm-out"),
                conn("fn", "out-Done", "resp", "send"),
            ],
        )
    )


async def test_an_array_input_string_cannot_replace_json_parse_for_another_callers_run() -> None:
    engine = JsEngine()  # one engine for the backend's functions, as a served backend has
    tasks = Runtime.from_export(TASKS_GRAPH, js=engine)
    victim_script = "Outputs.out = Inputs.secret.length; Outputs.Done();"
    victim = Runtime.from_export(victim_graph(victim_script), js=engine)

    first = await tasks.run("tasks", make_request({"items": STEAL}))
    assert json.loads(first.body) == {"result": {"items": [1]}}
    answered = await victim.run("victim", make_request({"secret": "hunter2-victim-secret"}))
    assert answered.body == '{"result":{"out":21}}'
    read = await tasks.run("tasks", make_request({"items": READ_BACK}))

    assert "hunter2" not in read.body
    assert json.loads(read.body) == {"result": {"items": [2]}}


async def test_globals_built_ins_and_prototypes_changed_by_a_run_are_gone_in_the_next() -> None:
    engine = JsEngine()
    polluter = Runtime.from_export(
        victim_graph(
            "Object.prototype.polluted = 'yes';\n"
            "Array.prototype.map = function () { return ['hijacked']; };\n"
            "globalThis.leftover = 42; undeclared = 'implicit';\n"
            "JSON.stringify = function () { return '[]'; };\n"
            "Math.max = function () { return -1; }; Outputs.out = [1].map((n) => n); Outputs.Done();"
        ),
        js=engine,
    )
    reader = Runtime.from_export(
        victim_graph(
            "Outputs.out = [({}).polluted, typeof leftover, typeof undeclared, [1, 2].map((n) => n * 2),\n"
            "  JSON.stringify({ a: 1 }), Math.max(1, 3)]; Outputs.Done();"
        ),
        js=engine,
    )

    polluted = await polluter.run("victim", make_request({}))
    assert polluted.body == '{"result":{"out":["hijacked"]}}'  # the change holds inside its own run
    for _ in range(3):
        answer = await reader.run("victim", make_request({}))
        expected = [None, "undefined", "undefined", [2, 4], '{"a":1}', 3]
        assert json.loads(answer.body) == {"result": {"out": expected}}


async def test_concurrent_runs_each_see_only_their_own_globals() -> None:
    # Each run sets a global, then awaits a host call that settles in a later loop turn, so the
    # runs interleave; each must read back its own value.
    script = (
        "globalThis.mine = Inputs.secret;\n"
        "try { await Noodl.Records.query('Nothing', {}); } catch (e) {}\n"
        "Outputs.out = globalThis.mine; Outputs.Done();"
    )
    runtime = Runtime.from_export(victim_graph(script), js=JsEngine())

    answers = await asyncio.gather(*(runtime.run("victim", make_request({"secret": i})) for i in range(20)))

    assert [a.body for a in answers] == [f'{{"result":{{"out":{i}}}}}' for i in range(20)]


async def test_an_array_literal_still_evaluates_as_javascript_in_its_run() -> None:
    # Compatibility (spec R10): a string at an array input is JavaScript, with the Math helpers.
    runtime = Runtime.from_export(TASKS_GRAPH, js=JsEngine())
    items = "[1, 2, 3].map(function (n) { return { value: max(n, 2) * 10 }; })"

    answer = await runtime.run("tasks", make_request({"items": items}))

    assert json.loads(answer.body) == {"result": {"items": [20, 20, 30]}}


async def test_changes_a_script_makes_out_of_sight_of_the_export_check_stay_in_its_run() -> None:
    # Nothing in this export looks like it changes a built-in, so its runs get frozen built-ins in
    # contexts that later runs reuse: the aliased change has no effect, the added global ends reuse.
    script = (
        "const j = JSON; j.parse = function () { return 'hijacked'; };\n"
        "const g = Function('return this')(); g['left' + 'over'] = Inputs.secret;\n"
        "if (typeof counter === 'undefined') counter = 0; counter++;\n"
        "Outputs.out = [JSON.parse('1'), typeof leftover, counter]; Outputs.Done();"
    )
    assert not may_change_builtins([script])
    runtime = Runtime.from_export(victim_graph(script), js=JsEngine())

    answers = [await runtime.run("victim", make_request({"secret": "s"})) for _ in range(5)]
    answers += await asyncio.gather(*(runtime.run("victim", make_request({"secret": "s"})) for _ in range(5)))

    assert [a.body for a in answers] == ['{"result":{"out":[1,"string",1]}}'] * 10


async def test_scripts_may_still_override_inherited_methods_on_their_own_objects() -> None:
    # With frozen built-ins, assigning a property an object inherits from one would fail (the
    # "override mistake"); the usual cases keep working.
    script = (
        "class MyError extends Error { constructor(m) { super(m); this.name = 'MyError'; } }\n"
        "const o = {}; o.toString = function () { return 'custom'; };\n"
        "const n = {}; n.valueOf = function () { return 41; };\n"
        "Outputs.out = [new MyError('x').name, String(o), n + 1, String([1, 2])];\n"
        "Outputs.Done();"
    )
    assert not may_change_builtins([script])  # so its built-ins are frozen
    answer = await Runtime.from_export(victim_graph(script), js=JsEngine()).run("victim", make_request({}))

    assert answer.body == '{"result":{"out":["MyError","custom",42,"1,2"]}}'


PURE = ["a * b + max(a, b)", "x == 1 ? '=;{' : y", "Math.floor(a / 2) >= b && c !== d", "min(a, b) - 1"]
IMPURE = [
    "random()",
    "Math.random() < a",
    "a.b = 1",
    "a += 1",
    "a <<= 1",
    "a++",
    "`${a}`",
    "a.constructor",
    "a.__proto__",
    "console.log(a)",
    "globalThis",
    "0); (function () { return 1",  # closes the compiled function's body early
    "(() => { return a })()",
    "a; b",
]


def test_only_expressions_that_compute_from_their_inputs_alone_count_as_pure() -> None:
    assert [is_pure_expression(source) for source in PURE] == [True] * len(PURE)
    assert [is_pure_expression(source) for source in IMPURE] == [False] * len(IMPURE)


async def test_a_context_only_pure_expressions_ran_in_goes_on_to_the_next_run_clean() -> None:
    # A pure expression's run hands its context back without a look inside; a later run in the same
    # context (one loop thread, so contexts are reused) must still find no global of any run before.
    engine = JsEngine()
    leaves = Runtime.from_export(
        export(
            component(
                "leave",
                [request_node(params="a"), node("e", "Expression", {"expression": "a"}), response_node()],
                [
                    conn("req", "pm-a", "e", "a"),
                    conn("e", "result", "resp", "pm-value"),
                    conn("req", "receive", "resp", "send"),
                ],
            ),
            component(
                "look",
                [
                    request_node(),
                    function_node(
                        "globalThis.seen = (globalThis.seen || 0) + 1; Outputs.out = seen; Outputs.Done();",
                        outputs=("out",),
                    ),
                    response_node(params="out"),
                ],
                [
                    conn("req", "receive", "fn", "run"),
                    conn("fn", "out-out", "resp", "pm-out"),
                    conn("fn", "out-Done", "resp", "send"),
                ],
            ),
        ),
        js=engine,
    )
    for value in range(30):  # enough runs for scripts to move onto the loop thread and reuse contexts
        assert (
            await leaves.run("leave", make_request({"a": value}))
        ).body == f'{{"result":{{"value":{value}}}}}'
        assert (await leaves.run("look", make_request({}))).body == '{"result":{"out":1}}'
