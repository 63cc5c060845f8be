"""The Node globals of Function code (runtimes/js/node-globals.js): they answer as Node 20's do, and
they are built-ins like the others, frozen, so what one run does to them no later run sees. The
real runner's answers for the common uses are recorded cases (tests/fixtures/cloudrunner-fidelity,
kind ``node-globals``)."""

from __future__ import annotations

import json

from sidecar.runtime import JsEngine, Runtime, make_request
from tests.runtime.graphs import tagged_function


async def answer(script: str, runtime: Runtime | None = None) -> object:
    runtime = runtime or Runtime.from_export(tagged_function("f", script))
    response = await runtime.run("f", make_request({"tag": 1}))
    assert response.status_code == 200, response.body
    return json.loads(response.body)["result"]["out"]


async def test_buffer_url_and_text_codecs_answer_as_node() -> None:
    # Each expected value is what Node v20.20.2 prints for the same expression.
    script = """
    const b = Buffer.from([104, 105, 33]);
    const u = new URL('https://a.com/p?x=1');
    u.searchParams.append('q', 'a b');
    const afterAppend = u.href;
    u.pathname = 'x y/z'; u.hash = 'frag ment'; u.port = '8443';
    Outputs.out = [b.slice(1) instanceof Buffer, b.toString('utf8', 1),
      Buffer.from('hi?>').toString('base64url'), Buffer.from('aGk_Pg', 'base64url').toString(),
      b.equals(Buffer.from('hi!')), b.indexOf('i'), afterAppend,
      u.href, u.search, new TextDecoder().decode(new TextEncoder().encode('ok')),
      typeof structuredClone(new Uint8Array([1])).buffer];
    Outputs.Done();
    """
    assert await answer(script) == [
        True,
        "i!",
        "aGk_Pg",
        "hi?>",
        True,
        1,
        "https://a.com/p?x=1&q=a+b",
        "https://a.com:8443/x%20y/z?x=1&q=a+b#frag%20ment",
        "?x=1&q=a+b",
        "ok",
        "object",
    ]


async def test_process_shows_no_environment_and_exit_is_refused() -> None:
    script = """
    let exit;
    try { process.exit(1); } catch (e) { exit = e.message; }
    Outputs.out = [process.env, Object.keys(process.env).length, process.platform,
      typeof process.hrtime()[0], exit];
    Outputs.Done();
    """
    assert await answer(script) == [
        {},
        0,
        "linux",
        "number",
        "process.exit() is not available in cloud functions",
    ]


async def test_a_run_cannot_change_the_node_globals_a_later_run_finds() -> None:
    engine = JsEngine()
    changer = Runtime.from_export(
        tagged_function(
            "f",
            """
            const attempts = [
              () => { Buffer.prototype.toString = () => 'hijacked'; },
              () => { URL.prototype.toJSON = () => 'hijacked'; },
              () => { crypto.randomUUID = () => 'same-id'; },
              () => { process.env.SECRET = 'kept'; },
              () => { URLSearchParams.prototype.get = () => 'hijacked'; },
              () => { structuredClone.marker = 1; },
            ];
            Outputs.out = attempts.map((attempt) => {
              try { attempt(); return 'changed'; } catch (e) { return e.name; }
            });
            Outputs.Done();
            """,
        ),
        js=engine,
    )
    reader = Runtime.from_export(
        tagged_function(
            "f",
            "Outputs.out = [Buffer.from('ab').toString(), JSON.stringify(new URL('http://a.com/')), "
            "crypto.randomUUID() === 'same-id', process.env.SECRET, new URLSearchParams('a=1').get('a'), "
            "structuredClone.marker]; Outputs.Done();",
        ),
        js=engine,
    )
    # Whether a change holds inside the changer's own run depends on the context it gets (a script
    # that may change built-ins runs in one of its own); no later run may see it.
    assert len(await answer("", changer)) == 6  # type: ignore[arg-type]
    for _ in range(3):
        assert await answer("", reader) == ["ab", '"http://a.com/"', False, None, "1", None]


async def test_the_global_object_lists_the_keys_node_lists() -> None:
    script = "Outputs.out = Object.keys(globalThis).sort(); Outputs.Done();"
    assert await answer(script) == [
        "atob",
        "btoa",
        "clearImmediate",
        "clearInterval",
        "clearTimeout",
        "crypto",
        "fetch",
        "global",
        "performance",
        "queueMicrotask",
        "setImmediate",
        "setInterval",
        "setTimeout",
        "structuredClone",
    ]


async def test_built_ins_newer_than_node_20_are_not_there() -> None:
    # Code that tests for them takes the real runner's path; the ones Node 20 has stay.
    script = (
        "Outputs.out = [typeof Object.groupBy, typeof Map.groupBy, typeof Promise.withResolvers,"
        " typeof Array.fromAsync, typeof new Set().union, typeof Float16Array, typeof RegExp.escape,"
        " typeof Array.prototype.findLast, typeof Array.prototype.toSorted,"
        " typeof String.prototype.isWellFormed,"
        " typeof structuredClone]; Outputs.Done();"
    )
    assert await answer(script) == ["undefined"] * 7 + ["function"] * 4
