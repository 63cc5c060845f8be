"""Local stand-ins for the Anthropic Messages API and the OpenAI Chat Completions and Embeddings APIs.

Written from the vendors' public API references: the JSON shapes, the server-sent event sequences of a
streamed answer (Anthropic: ``message_start`` … ``message_stop``; OpenAI: ``chat.completion.chunk``
objects then ``[DONE]``), tool-use blocks and tool-call deltas, and the error bodies with
``retry-after``. Each test scripts the answers (:class:`Reply`, in order) and reads what the SDK sent
(``requests``). Nothing here was checked against the real services, which this machine cannot reach.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Reply:
    """One scripted answer: an error (``status`` ≥ 400) or a message with text and/or tool calls."""

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (name, arguments)
    status: int = 200
    retry_after: str | None = None
    chunk_delay: float = 0.0  # seconds between streamed chunks
    input_tokens: int = 12
    output_tokens: int = 7
    stamped_chunks: int = 0
    """Instead of ``text``, this many chunks each holding the epoch time it was sent (``"<ms>;"``)."""


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class VendorServer:
    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[Seen] = []
        self.chunk_times: list[float] = []  # loop time each streamed text chunk left the server
        self.streaming = asyncio.Event()  # set once a streamed text chunk has been sent
        self._server: TestServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return str(self._server.make_url("/v1")).rstrip("/")

    @property
    def root_url(self) -> str:
        """Anthropic's SDK adds ``/v1`` itself."""
        assert self._server is not None
        return str(self._server.make_url("")).rstrip("/")

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def _next(self, body: dict[str, Any]) -> Reply:
        return self.replies.pop(0) if self.replies else unscripted_reply(body)

    async def _seen(self, request: web.Request) -> dict[str, Any]:
        body = await request.json()
        self.requests.append(Seen(request.path, {k.lower(): v for k, v in request.headers.items()}, body))
        return dict(body)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/messages", self._anthropic)
        app.router.add_post("/v1/chat/completions", self._openai_chat)
        app.router.add_post("/v1/embeddings", self._openai_embeddings)
        app.router.add_post("/_script", self._script_over_http)
        return app

    async def _script_over_http(self, request: web.Request) -> web.Response:
        """``POST /_script {"replies": [{"text", "stampedChunks", "chunkDelay"}]}``: for other processes."""
        body = await request.json()
        for entry in body.get("replies", []):
            self.script(
                Reply(
                    text=str(entry.get("text", "")),
                    stamped_chunks=int(entry.get("stampedChunks", 0)),
                    chunk_delay=float(entry.get("chunkDelay", 0.0)),
                )
            )
        return web.json_response({"scripted": len(self.replies)})

    # ---- errors, shaped as each vendor's reference shows -----------------------------------------------
    @staticmethod
    def _error(reply: Reply, anthropic: bool) -> web.Response:
        headers = {"retry-after": reply.retry_after} if reply.retry_after is not None else {}
        kind = "rate_limit_error" if reply.status == 429 else "api_error"
        message = "Rate limited" if reply.status == 429 else "Internal server error"
        if anthropic:
            body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
        else:
            body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
        return web.json_response(body, status=reply.status, headers=headers)

    # ---- Anthropic Messages ------------------------------------------------------------------------------
    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        body = await self._seen(request)
        reply = self._next(body)
        if reply.status >= 400:
            return self._error(reply, anthropic=True)
        blocks: list[dict[str, Any]] = []
        if reply.text or reply.stamped_chunks:
            blocks.append({"type": "text", "text": reply.text})
        for index, (name, arguments) in enumerate(reply.tool_calls):
            blocks.append({"type": "tool_use", "id": f"toolu_{index:02d}", "name": name, "input": arguments})
        stop = "tool_use" if reply.tool_calls else "end_turn"
        message = {
            "id": "msg_test",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
        }
        if not body.get("stream"):
            return web.json_response(message)
        response = await _sse(request)
        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {**message["usage"], "output_tokens": 0},
        }
        await _event(response, "message_start", {"type": "message_start", "message": start})
        for index, block in enumerate(blocks):
            empty = {"type": "text", "text": ""} if block["type"] == "text" else {**block, "input": {}}
            await _event(
                response,
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": empty},
            )
            if block["type"] == "text":
                for piece in _text_pieces(reply):
                    await self._pause(reply)
                    delta = {"type": "text_delta", "text": piece}
                    await _event(
                        response,
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": delta},
                    )
                    self._chunk_sent()
            else:
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
                await _event(
                    response,
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            await _event(response, "content_block_stop", {"type": "content_block_stop", "index": index})
        await _event(
            response,
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": reply.output_tokens},
            },
        )
        await _event(response, "message_stop", {"type": "message_stop"})
        await response.write_eof()
        return response

    # ---- OpenAI Chat Completions -------------------------------------------------------------------------
    async def _openai_chat(self, request: web.Request) -> web.StreamResponse:
        body = await self._seen(request)
        reply = self._next(body)
        if reply.status >= 400:
            return self._error(reply, anthropic=False)
        calls: list[dict[str, Any]] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
            for i, (name, args) in enumerate(reply.tool_calls)
        ]
        finish = "tool_calls" if calls else "stop"
        usage = {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
        }
        base = {"id": "chatcmpl-test", "created": 1_700_000_000, "model": body["model"]}
        if not body.get("stream"):
            message = {
                "role": "assistant",
                "content": reply.text or None,
                **({"tool_calls": calls} if calls else {}),
            }
            choice = {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            return web.json_response(
                {**base, "object": "chat.completion", "choices": [choice], "usage": usage}
            )
        response = await _sse(request)

        async def chunk(delta: dict[str, Any], finish_reason: str | None = None, last: bool = False) -> None:
            choices = (
                []
                if last
                else [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}]
            )
            data = {**base, "object": "chat.completion.chunk", "choices": choices}
            if last:
                data["usage"] = usage
            await response.write(f"data: {json.dumps(data)}\n\n".encode())

        await chunk({"role": "assistant", "content": ""})
        for piece in _text_pieces(reply):
            await self._pause(reply)
            await chunk({"content": piece})
            self._chunk_sent()
        for index, call in enumerate(calls):
            arguments = call["function"]["arguments"]
            head = {
                "index": index,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            await chunk({"tool_calls": [head]})
            half = len(arguments) // 2
            for part in (arguments[:half], arguments[half:]):
                await chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
        await chunk({}, finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            await chunk({}, last=True)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _openai_embeddings(self, request: web.Request) -> web.Response:
        body = await self._seen(request)
        reply = self.replies.pop(0) if self.replies else Reply()
        if reply.status >= 400:
            return self._error(reply, anthropic=False)
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        size = int(body.get("dimensions") or 8)
        data = [
            {"object": "embedding", "index": i, "embedding": text_vector(t, size)}
            for i, t in enumerate(texts)
        ]
        tokens = sum(len(t.split()) for t in texts)
        usage = {"prompt_tokens": tokens, "total_tokens": tokens}
        return web.json_response({"object": "list", "data": data, "model": body["model"], "usage": usage})

    def _chunk_sent(self) -> None:
        self.chunk_times.append(asyncio.get_running_loop().time())
        self.streaming.set()

    async def _pause(self, reply: Reply) -> None:
        if reply.chunk_delay:
            await asyncio.sleep(reply.chunk_delay)


def unscripted_reply(body: dict[str, Any]) -> Reply:
    """What the server answers when a test scripted nothing (the demo's stand-in model): a question
    with tools offered calls the first tool; a tool result is summarised; anything else is echoed."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    content = last.get("content")
    results = (
        [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
        if isinstance(content, list)
        else []
    )
    if last.get("role") == "tool" or results:
        found = last.get("content") if last.get("role") == "tool" else results[0].get("content")
        return Reply(text=_summary(str(found)))
    tools = body.get("tools") or []
    if tools:
        first = tools[0].get("name") or tools[0].get("function", {}).get("name")
        return Reply(tool_calls=[(str(first), {})])
    return Reply(text=f"You said: {content if isinstance(content, str) else json.dumps(content)}")


def _summary(tool_answer: str) -> str:
    """The stand-in model's reading of a tool's answer: the items of its first list, by their first text."""
    try:
        data = json.loads(tool_answer)
    except ValueError:
        return f"The tool answered: {tool_answer[:200]}"
    pending = [data]
    while pending:
        value = pending.pop(0)
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            names = [next((v for v in item.values() if isinstance(v, str)), "?") for item in value]
            return f"I found {len(value)}: " + "; ".join(names) + "."
        if isinstance(value, dict):
            pending.extend(value.values())
    return f"The tool answered: {tool_answer[:200]}"


def text_vector(text: str, size: int) -> list[float]:
    """A deterministic unit vector for ``text`` (the same text always embeds the same)."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = [digest[i % len(digest)] - 127.5 for i in range(size)]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def _text_pieces(reply: Reply) -> Iterator[str]:
    """The streamed chunks of a reply's text, a few characters each as models send tokens; stamped
    chunks are made as they are sent."""
    if reply.stamped_chunks:
        for _ in range(reply.stamped_chunks):
            yield f"{time.time() * 1000:.3f};"
        return
    text = reply.text
    yield from (text[i : i + 4] for i in range(0, len(text), 4))


async def _sse(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    return response


async def _event(response: web.StreamResponse, name: str, data: dict[str, Any]) -> None:
    await response.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())


@asynccontextmanager
async def vendor_server() -> AsyncIterator[VendorServer]:
    vendor = VendorServer()
    server = TestServer(vendor.app())
    await server.start_server()
    vendor._server = server
    try:
        yield vendor
    finally:
        await server.close()


async def _serve_until_stdin_closes() -> None:
    """``python -m tests.ai.vendor_servers``: print the root URL, serve until standard input closes."""
    async with vendor_server() as vendor:
        print(vendor.root_url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(_serve_until_stdin_closes())
