"""Recorded answers of the real CloudRunner for the rarer rules (tests/fixtures/cloudrunner-fidelity):
each case's export and request run here must give the same status and the same body, byte for byte.

What the kinds state about the real runner:
- expression-template-literal: names inside `${…}` of an Expression are its inputs.
- function-intype-array: a Function input typed `array` evaluates a string as JavaScript (`[]` if it
  does not evaluate); other types leave the value as it came.
- object-create-id: `Noodl.Object.create({id, …})` files the object under that id (a number stays
  a number); the id is not one of its keys and JSON puts it last.
- substring-null: a null string leaves Substring's string as it was.
- run-tasks-item-ids: an item's own id (string or number, 0 included) is the task's `Id`/`id`.
- numeric-strings: JavaScript's Number() rules (spaces, tabs and newlines trimmed).
- request-user-id: an anonymous call has no `userId` (the key is left out of the body).
- proto-keys: `__proto__` keys are ordinary keys, in and out.
- function-throws: outputs a Function set before it throws are sent; nothing after the throw.
- async-timers: timers and awaits in Function code run on and answer.
- cloud-file: only a record's File property is a file for Cloud File; an object or URL from a
  request leaves its outputs undefined.
- shared-references: nodes share objects; a later Function's in-place change shows in the Response.
- date-string-rules: Date To String reads a string as V8's `new Date` does: numbers alone ("5" is
  May 1st 2001, "0" New Year's day 2000), and an ISO date with a time only when exact.
- string-format-non-string: a String Format whose format is not a string never formats (Formatted
  stays ``""``), and stays so for the run.
- object-api: `setAll` and `fill` of Noodl objects skip the id, the id is read-only, and a new
  object's id is ten letters and digits.
- function-non-finite-inputs: NaN and ±Infinity reach a Function's `Inputs` as numbers.
- filter-records-rules: Filter Records' local match: loose `equal to`, `not exist` keeping defined
  values, `contain` on the text of any value, `equal to` null leaving the outputs as they were.
- rest-node: the REST node reads JSON answers only (another content type ends the fetch with no
  signal), sends a body only for truthy content and no Content-Type without one, expands `$&` in a
  placeholder's value, and sends no signal when its request script throws. These cases (`"server":
  "echo"`) were recorded against a local echo server at ``RECORDED_ECHO``; the test starts the same
  echo server and points the export at it.
- run-tasks-start: Run Tasks first starts about half its items (its start loop compares with the
  shrinking queue), so with Stop On Failure a first failure leaves the rest unstarted.
- engine-error-messages: errors the engine throws read as V8 (Node 20) words them, in `message` and
  in the first line of `stack` ("TypeError: Cannot read properties of undefined (reading 'x')",
  "o.a.run is not a function", JSON.parse's messages quoting the text, …).
- node-globals: the Node globals a Function's code finds (Buffer, URL, URLSearchParams,
  TextEncoder/TextDecoder, structuredClone, crypto, AbortController, setImmediate, process, global)
  and the global object's own keys.
- noodl-settings-metadata: `Noodl.getProjectSettings()` is the export's `settings` object and
  `Noodl.getMetaData([key])` its `metadata` (or one key of it); an export without them gives `{}`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from sidecar.runtime import Runtime, make_request
from tests.conftest import FIXTURES_DIR

RECORDED_ECHO = "http://127.0.0.1:18931"  # where the echo server listened when the cases were recorded

CASES: list[dict[str, Any]] = [
    json.loads(line)
    for line in (FIXTURES_DIR / "cloudrunner-fidelity" / "cases.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
    if line.strip()
]


async def _echo(request: web.Request) -> web.Response:
    """The recording's echo server: ``/json…`` answers what it received as JSON, ``/text`` plain text,
    ``/status/<n>`` the echo with status n."""
    path = request.path
    if path.startswith("/text"):
        return web.Response(body=b"plain text", content_type="text/plain")
    body = await request.text() if request.can_read_body else None
    echo = {
        "method": request.method,
        "path": request.path_qs,
        "ctype": request.headers.get("content-type"),
        "x": request.headers.get("x-test"),
        "body": body or None,
    }
    status = int(path.rsplit("/", 1)[1]) if path.startswith("/status/") else 200
    return web.json_response(echo, status=status)


async def _start_echo() -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("case", CASES, ids=[f"{case['kind']}:{case['id']}" for case in CASES])
async def test_answers_as_the_real_runner(case: dict[str, Any]) -> None:
    graph = case["export"]
    server = None
    if case.get("server") == "echo":
        server, base = await _start_echo()
        graph = json.loads(json.dumps(graph).replace(RECORDED_ECHO, base))
    try:
        runtime = Runtime.from_export(graph, timeout_seconds=2.0)
        response = await runtime.run(case["function"], make_request(case["request"]["body"]))
    finally:
        if server is not None:
            await server.cleanup()
    assert (response.status_code, response.body) == (case["expected"]["statusCode"], case["expected"]["body"])


async def test_an_object_changed_in_place_stays_within_its_run() -> None:
    """Sharing is within a run: an object the export itself holds (a parameter) is never changed, so
    every run starts from the export as deployed (the real runner's one global scope would keep it)."""
    from tests.runtime.graphs import component, conn, export, node, request_node, response_node

    script = "Inputs.obj.n += 1; Inputs.obj.seen.push(Inputs.tag); Outputs.out = Inputs.obj; Outputs.Done();"
    function = node(
        "fn",
        "JavaScriptFunction",
        {"functionScript": script, "in-obj": {"n": 1, "seen": []}},
        ports=[
            {"name": "in-obj", "plug": "input", "type": "*"},
            {"name": "in-tag", "plug": "input", "type": "*"},
            {"name": "out-out", "plug": "output", "type": "*"},
            {"name": "out-Done", "plug": "output", "type": "signal"},
        ],
    )
    graph = export(
        component(
            "f",
            [request_node(params="tag"), function, response_node(params="out")],
            [
                conn("req", "pm-tag", "fn", "in-tag"),
                conn("req", "receive", "fn", "run"),
                conn("fn", "out-out", "resp", "pm-out"),
                conn("fn", "out-Done", "resp", "send"),
            ],
        )
    )
    runtime = Runtime.from_export(graph)
    answers = [(await runtime.run("f", make_request({"tag": tag}))).body for tag in ("a", "b")]
    assert answers == ['{"result":{"out":{"n":2,"seen":["a"]}}}', '{"result":{"out":{"n":2,"seen":["b"]}}}']
