"""``fetch`` in Function code answers as Node 20's fetch does for what scripts use (status, ok,
statusText, headers.get, json(), text()), goes through the backend's HTTP client, and ends with the
run: a request still open when the run times out is cancelled."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from sidecar.runtime import Runtime, make_request
from tests.runtime.graphs import tagged_function


class Upstream:
    """A local HTTP server standing for the API a Function calls."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.slow_cancelled = asyncio.Event()  # the caller closed its connection
        self.url = ""

    async def echo(self, request: web.Request) -> web.Response:
        body = await request.text()
        self.seen.append(
            {
                "method": request.method,
                "headers": {k.lower(): v for k, v in request.headers.items()},
                "body": body,
            }
        )
        return web.json_response(
            {"method": request.method, "body": body, "query": dict(request.query)},
            headers={"X-Trace": "abc"},
        )

    async def text(self, request: web.Request) -> web.Response:
        return web.Response(text="plain words", status=404, reason="Nope")

    async def redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/echo?from=redirect")

    async def slow(self, request: web.Request) -> web.Response:
        # aiohttp does not cancel a handler whose client went away: watch the connection instead.
        for _ in range(500):
            if request.transport is None or request.transport.is_closing():
                self.slow_cancelled.set()
                break
            await asyncio.sleep(0.02)
        return web.Response(text="late")


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    server = Upstream()
    app = web.Application()
    app.router.add_route("*", "/echo", server.echo)
    app.router.add_get("/text", server.text)
    app.router.add_get("/redirect", server.redirect)
    app.router.add_get("/slow", server.slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}"
    yield server
    await runner.cleanup()


async def answer(script: str, tag: Any, **options: Any) -> tuple[int, Any]:
    runtime = Runtime.from_export(tagged_function("calls", script), **options)
    response = await runtime.run("calls", make_request({"tag": tag}))
    body = json.loads(response.body)
    return response.status_code, body.get("result", {}).get("out", body)


async def test_a_json_post_reads_status_headers_and_json(upstream: Upstream) -> None:
    script = """
const res = await fetch(Inputs.tag + '/echo?q=1', {
  method: 'post', headers: { 'Content-Type': 'application/json', 'X-Key': 'k1' },
  body: JSON.stringify({ a: 1 }),
});
const data = await res.json();
Outputs.out = { ok: res.ok, status: res.status, statusText: res.statusText,
  trace: res.headers.get('x-trace'), type: res.headers.get('Content-Type'), missing: res.headers.get('nope'),
  data, used: res.bodyUsed, again: await res.text().catch(e => e.constructor.name + ': ' + e.message) };
Outputs.Done();
"""
    status, out = await answer(script, upstream.url)
    assert status == 200
    assert out == {
        "ok": True,
        "status": 200,
        "statusText": "OK",
        "trace": "abc",
        "type": "application/json; charset=utf-8",
        "missing": None,
        "data": {"method": "POST", "body": '{"a":1}', "query": {"q": "1"}},
        "used": True,
        "again": "TypeError: Body is unusable: Body has already been read",
    }
    sent = upstream.seen[0]
    assert sent["headers"]["content-type"] == "application/json"
    assert sent["headers"]["x-key"] == "k1"


async def test_an_error_status_is_an_answer_not_a_failure_and_text_reads_the_body(upstream: Upstream) -> None:
    script = """
const res = await fetch(Inputs.tag + '/text');
Outputs.out = [res.ok, res.status, res.statusText, await res.text()];
Outputs.Done();
"""
    assert await answer(script, upstream.url) == (200, [False, 404, "Nope", "plain words"])


async def test_redirects_are_followed_and_a_string_body_is_sent_as_text(upstream: Upstream) -> None:
    script = """
const moved = await fetch(Inputs.tag + '/redirect');
const posted = await fetch(Inputs.tag + '/echo', { method: 'PUT', body: 'hi' });
Outputs.out = { redirected: moved.redirected, url: moved.url.endsWith('/echo?from=redirect'),
  query: (await moved.json()).query, put: (await posted.json()).body };
Outputs.Done();
"""
    status, out = await answer(script, upstream.url)
    assert (status, out) == (
        200,
        {"redirected": True, "url": True, "query": {"from": "redirect"}, "put": "hi"},
    )
    assert upstream.seen[-1]["headers"]["content-type"] == "text/plain;charset=UTF-8"


async def test_failures_reject_as_node_does() -> None:
    script = """
const outcomes = [];
for (const url of Inputs.tag) {
  try { await fetch(url); outcomes.push('answered'); }
  catch (e) { outcomes.push(e.constructor.name + ': ' + e.message); }
}
try { await fetch('http://127.0.0.1:9/', { method: 'GET', body: 'x' }); }
catch (e) { outcomes.push(e.constructor.name + ': ' + e.message); }
Outputs.out = outcomes;
Outputs.Done();
"""
    status, out = await answer(script, ["not a url", "ftp://example.com/x", "http://127.0.0.1:9/"])
    assert status == 200
    assert out == [
        "TypeError: Failed to parse URL from not a url",
        "TypeError: fetch failed",
        "TypeError: fetch failed",
        "TypeError: Request with GET/HEAD method cannot have body.",
    ]


async def test_a_request_still_open_when_the_run_times_out_is_cancelled(upstream: Upstream) -> None:
    script = "const res = await fetch(Inputs.tag + '/slow'); Outputs.out = await res.text(); Outputs.Done();"
    status, _ = await answer(script, upstream.url, timeout_seconds=0.3)
    assert status == 504
    await asyncio.wait_for(upstream.slow_cancelled.wait(), 2)


def test_headers_and_response_are_there_for_scripts_to_build() -> None:
    from sidecar.runtime.jsthreads import ContextShape, new_context, read_prelude

    context, _ = new_context(ContextShape(32 << 20, 1 << 20, True), read_prelude())
    script = """
const h = new Headers([['B', '2'], ['a', '1']]); h.append('a', '3');
const r = Response.json({ x: 1 }, { status: 201 });
JSON.stringify([[...h], h.get('A'), h.has('b'), r.status, r.ok, r.headers.get('content-type')])
"""
    assert json.loads(context.eval(script)) == [
        [["a", "1, 3"], ["b", "2"]],
        "1, 3",
        True,
        201,
        True,
        "application/json",
    ]


async def test_concurrent_runs_each_get_their_own_answer(upstream: Upstream) -> None:
    script = """
const n = Inputs.tag.n;
const res = await fetch(Inputs.tag.url + '/echo?n=' + n, { method: 'POST', body: String(n) });
const data = await res.json();
Outputs.out = [data.query.n, data.body];
Outputs.Done();
"""
    runtime = Runtime.from_export(tagged_function("calls", script))
    responses = await asyncio.gather(
        *(runtime.run("calls", make_request({"tag": {"url": upstream.url, "n": n}})) for n in range(8))
    )
    answers = [json.loads(response.body)["result"]["out"] for response in responses]
    assert answers == [[str(n), str(n)] for n in range(8)]
