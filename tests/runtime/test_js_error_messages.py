"""Errors the engine throws read as V8 (Node 20, the real CloudRunner's engine) writes them: the
message a script's `catch`, a Try/Catch node and the history show, and a `stack` that starts with
"Name: message" (runtimes/js/errors.js). The real runner's answers for the common cases are recorded
cases (tests/fixtures/cloudrunner-fidelity, kind ``engine-error-messages``)."""

from __future__ import annotations

import json

import pytest

from sidecar.runtime import JsEngine, Runtime, make_request
from tests.runtime.graphs import tagged_function
from tests.runtime.test_js_console import console_lines, run_recorded


async def caught(snippet: str, runtime: Runtime | None = None) -> list[str]:
    script = (
        f"try {{ {snippet}\n Outputs.out = 'no error'; }} catch (e) {{\n"
        "  Outputs.out = [e.name, e.message, e.stack.split('\\n')[0], e.stack.split('\\n').length > 1];\n"
        "}\nOutputs.Done();"
    )
    runtime = runtime or Runtime.from_export(tagged_function("f", script))
    response = await runtime.run("f", make_request({"tag": {"a": 1}}))
    assert response.status_code == 200, response.body
    out: list[str] = json.loads(response.body)["result"]["out"]
    return out


# Each message is the one Node v20.20.2 gives for the same code.
@pytest.mark.parametrize(
    ("snippet", "name", "message"),
    [
        (
            "const o = {}; o.list.length;",
            "TypeError",
            "Cannot read properties of undefined (reading 'length')",
        ),
        ("const v = null; v.name;", "TypeError", "Cannot read properties of null (reading 'name')"),
        ("let u; u.x = 1;", "TypeError", "Cannot set properties of undefined (setting 'x')"),
        ("const o = {a: {}}; o.a.run();", "TypeError", "o.a.run is not a function"),
        ("const f = () => ({}); f().g();", "TypeError", "f(...).g is not a function"),
        ("const list = []; list[0]();", "TypeError", "list[0] is not a function"),
        ("const o = {}; new o.Thing();", "TypeError", "o.Thing is not a constructor"),
        ("const c = 1; c = 2;", "TypeError", "Assignment to constant variable."),
        ("let u; [...u];", "TypeError", "u is not iterable"),
        ("const o = {}; for (const x of o.items) {}", "TypeError", "o.items is not iterable"),
        (
            "Array.from(undefined);",
            "TypeError",
            "undefined is not iterable (cannot read property Symbol(Symbol.iterator))",
        ),
        ("x; let x = 1;", "ReferenceError", "Cannot access 'x' before initialization"),
        ("missing + 1;", "ReferenceError", "missing is not defined"),
        ("new Array(-1);", "RangeError", "Invalid array length"),
        ("(1).toPrecision(0);", "RangeError", "toPrecision() argument must be between 1 and 100"),
        ("decodeURIComponent('%');", "URIError", "URI malformed"),
        ("class A {}; A();", "TypeError", "Class constructor A cannot be invoked without 'new'"),
        ("1n + 1;", "TypeError", "Cannot mix BigInt and other types, use explicit conversions"),
        ("Math.sqrt(1n);", "TypeError", "Cannot convert a BigInt value to a number"),
        ("[].reduce((a, b) => a);", "TypeError", "Reduce of empty array with no initial value"),
        ("JSON.parse(undefined);", "SyntaxError", '"undefined" is not valid JSON'),
        (
            "JSON.parse('[1,2,3,4,5,6,7,8,9,10,11,12,13,14,x]');",
            "SyntaxError",
            "Unexpected token 'x', ...\",12,13,14,x]\" is not valid JSON",
        ),
        (
            'JSON.parse(\'{"a":1}\\n{"b":2}\');',
            "SyntaxError",
            "Unexpected non-whitespace character after JSON at position 8",
        ),
        ("JSON.parse('01');", "SyntaxError", "Unexpected number in JSON at position 1"),
        (
            "JSON.parse('[1, 2');",
            "SyntaxError",
            "Expected ',' or ']' after array element in JSON at position 5",
        ),
        ("eval('1 +');", "SyntaxError", "Unexpected end of input"),
        (
            "const a = {x: [1, {}]}; a.x[1].up = a.x; JSON.stringify(a);",
            "TypeError",
            "Converting circular structure to JSON\n    --> starting at object with constructor 'Array'\n"
            "    |     index 1 -> object with constructor 'Object'\n    --- property 'up' closes the circle",
        ),
        ("throw new RangeError('mine');", "RangeError", "mine"),
    ],
)
async def test_engine_errors_read_as_v8_writes_them(snippet: str, name: str, message: str) -> None:
    first_line = f"{name}: {message}".split("\n")[0]
    assert await caught(snippet) == [name, message, first_line, True]


async def test_callee_names_are_read_in_callbacks_and_after_an_await() -> None:
    snippets = [
        "[1].forEach(() => { const cfg = {}; cfg.load(); });",
        "await null; Inputs.tag.run();",
        "await new Promise((resolve, reject) => setTimeout(() => {\n"
        "  try { Inputs.tag.later(); } catch (e) { reject(e); }\n}, 1));",
    ]
    messages = [(await caught(snippet))[1] for snippet in snippets]
    assert messages == [
        "cfg.load is not a function",
        "Inputs.tag.run is not a function",
        "Inputs.tag.later is not a function",
    ]


async def test_a_logged_error_shows_its_stack_once_as_node_prints_it() -> None:
    runtime = Runtime.from_export(
        tagged_function("logs", "try { null.x; } catch (e) { console.error(e); } Outputs.Done();")
    )
    _, recorder = await run_recorded(runtime, {})
    [line] = console_lines(recorder)
    text = line["text"]
    assert text.startswith("TypeError: Cannot read properties of null (reading 'x')\n    at ")
    assert text.count("Cannot read properties") == 1


async def test_json_parse_and_stringify_keep_their_arguments_and_shape() -> None:
    script = (
        "Outputs.out = [JSON.parse('{\"a\": 1}', (k, v) => typeof v === 'number' ? v + 1 : v).a,"
        " JSON.parse.name, JSON.parse.length, JSON.parse('[1]')[0],"
        " JSON.stringify.name, JSON.stringify.length,"
        " JSON.stringify({b: [1, 2]}, null, 1)]; Outputs.Done();"
    )
    response = await Runtime.from_export(tagged_function("f", script)).run("f", make_request({}))
    expected = [2, "parse", 2, 1, "stringify", 3, '{\n "b": [\n  1,\n  2\n ]\n}']
    assert json.loads(response.body)["result"]["out"] == expected


async def test_a_run_cannot_change_how_later_runs_write_their_errors() -> None:
    # QuickJS keeps prepareStackTrace and stackTraceLimit in the context, which later runs reuse.
    engine = JsEngine()
    changer = Runtime.from_export(
        tagged_function(
            "f",
            "try { Error.prepareStackTrace = () => 'hijacked'; } catch (e) {}\n"
            "try { Error.stackTraceLimit = 0; } catch (e) {}\nOutputs.out = 1; Outputs.Done();",
        ),
        js=engine,
    )
    reader = Runtime.from_export(
        tagged_function(
            "f",
            "Outputs.out = [new Error('m').stack.split('\\n').slice(0, 2).length,"
            " typeof Error.prepareStackTrace, Error.stackTraceLimit,"
            " new Error('m').stack.split('\\n')[0]]; Outputs.Done();",
        ),
        js=engine,
    )
    for _ in range(5):
        await changer.run("f", make_request({}))
        response = await reader.run("f", make_request({}))
        assert json.loads(response.body)["result"]["out"] == [2, "undefined", 10, "Error: m"]


async def test_a_stack_is_written_when_first_read_as_v8_does() -> None:
    # V8 writes the "Name: message" line on the first read: a subclass naming itself in its
    # constructor shows its name, and a message changed before the first read shows the new one.
    script = (
        "class MyError extends Error { constructor(m) { super(m); this.name = 'MyError'; } }\n"
        "const a = new Error('a'); a.message = 'b';\n"
        "const c = new Error('c'); const first = c.stack; c.message = 'd';\n"
        "const e = new Error('e'); e.stack = 'replaced';\n"
        "const head = (error) => error.stack.split('\\n')[0];\n"
        "Outputs.out = [head(new MyError('m')), head(a), head(c), e.stack]; Outputs.Done();"
    )
    response = await Runtime.from_export(tagged_function("f", script)).run("f", make_request({}))
    assert json.loads(response.body)["result"]["out"] == ["MyError: m", "Error: b", "Error: c", "replaced"]
