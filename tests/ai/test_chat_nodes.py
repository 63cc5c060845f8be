"""Claude and OpenAI nodes through the vendors' real SDKs, pointed at the local vendor server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from sidecar.backends.backend import Backend
from sidecar.events.model import ExecutionEvent
from tests.ai.conftest import (
    ANTHROPIC_KEY,
    BACKEND_ID,
    OPENAI_KEY,
    call,
    execution_of,
    files_holding,
    one_node_function,
    steps_of,
)
from tests.ai.vendor_servers import Reply, VendorServer

CLAUDE = "noodl.ai.claude"
OPENAI = "noodl.ai.openai"
OUTPUTS = ("text", "parsed", "toolCalls", "stopReason", "usage", "model", "cost")


def deploy(
    backend: Backend, node_type: str, parameters: dict[str, Any], inputs: tuple[str, ...] = ("prompt",)
) -> None:
    backend.workflows.deploy("ask", one_node_function("ask", node_type, parameters, inputs, OUTPUTS))


def claude(vendor: VendorServer, **more: Any) -> dict[str, Any]:
    return {"credential": "claude", "baseUrl": vendor.root_url, "model": "claude-sonnet-4-5", **more}


def gpt(vendor: VendorServer, **more: Any) -> dict[str, Any]:
    return {"credential": "gpt", "baseUrl": vendor.base_url, "model": "gpt-4o-mini", **more}


async def test_claude_answers_the_prompt_with_the_stored_key(backend: Backend, vendor: VendorServer) -> None:
    vendor.script(Reply(text="Paris is the capital of France.", input_tokens=20, output_tokens=9))
    deploy(backend, CLAUDE, claude(vendor, system="Be brief.", maxTokens=200))

    status, body, execution_id = await call(backend, "ask", {"prompt": "Capital of France?"})

    assert status == 200
    result = body["result"]
    assert result["text"] == "Paris is the capital of France."
    assert result["stopReason"] == "end_turn"
    assert result["usage"] == {"inputTokens": 20, "outputTokens": 9}
    assert result["cost"] == pytest.approx((20 * 3 + 9 * 15) / 1_000_000)
    sent = vendor.requests[0]
    assert sent.path == "/v1/messages"
    # The SDK sends the key as x-api-key or, in its newer releases, as a bearer token.
    assert ANTHROPIC_KEY in (sent.headers.get("x-api-key"), sent.headers.get("authorization", "")[7:])
    assert "anthropic-version" in sent.headers
    assert sent.body["model"] == "claude-sonnet-4-5"
    assert sent.body["system"] == "Be brief."
    assert sent.body["max_tokens"] == 200
    assert sent.body["messages"] == [{"role": "user", "content": "Capital of France?"}]
    assert sent.body["stream"] is True
    execution = await execution_of(backend, execution_id)
    step = next(s for s in execution["steps"] if s["nodeId"] == "ai")
    assert step["status"] == "success"
    assert step["outputData"]["text"] == "Paris is the capital of France."
    assert step["outputData"]["usage"] == {"inputTokens": 20, "outputTokens": 9}
    assert execution["metadata"]["aiUsage"] == {
        "calls": 1,
        "inputTokens": 20,
        "outputTokens": 9,
        "cost": pytest.approx(result["cost"]),
    }


async def test_openai_answers_with_its_key_and_usage(backend: Backend, vendor: VendorServer) -> None:
    vendor.script(Reply(text="Hello there, friend.", input_tokens=5, output_tokens=4))
    deploy(backend, OPENAI, gpt(vendor))

    status, body, _ = await call(backend, "ask", {"prompt": "Greet me"})

    assert status == 200
    assert body["result"]["text"] == "Hello there, friend."
    assert body["result"]["stopReason"] == "stop"
    assert body["result"]["usage"] == {"inputTokens": 5, "outputTokens": 4}
    sent = vendor.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert sent.body["messages"] == [{"role": "user", "content": "Greet me"}]
    assert sent.body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(("node_type", "provider"), [(CLAUDE, "claude"), (OPENAI, "gpt")])
async def test_tool_calls_come_out_with_parsed_arguments(
    backend: Backend, vendor: VendorServer, node_type: str, provider: str
) -> None:
    vendor.script(Reply(tool_calls=[("get_weather", {"city": "Oslo", "unit": "c"})]))
    tools = [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    ]
    settings = claude(vendor, tools=tools) if provider == "claude" else gpt(vendor, tools=tools)
    deploy(backend, node_type, settings)

    status, body, _ = await call(backend, "ask", {"prompt": "Weather in Oslo?"})

    assert status == 200
    calls = body["result"]["toolCalls"]
    assert [(c["name"], c["arguments"]) for c in calls] == [("get_weather", {"city": "Oslo", "unit": "c"})]
    assert body["result"]["stopReason"] in ("tool_use", "tool_calls")
    sent = vendor.requests[0].body["tools"][0]
    if provider == "claude":
        assert sent == {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": tools[0]["parameters"],
        }
    else:
        assert sent["function"]["name"] == "get_weather"
        assert sent["function"]["parameters"] == tools[0]["parameters"]


async def test_claude_json_output_is_parsed(backend: Backend, vendor: VendorServer) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    vendor.script(Reply(tool_calls=[("respond", {"city": "Paris"})]))
    deploy(backend, CLAUDE, claude(vendor, responseFormat="json", schema=schema))

    status, body, _ = await call(backend, "ask", {"prompt": "Capital of France as JSON"})

    assert status == 200
    assert body["result"]["parsed"] == {"city": "Paris"}
    assert body["result"]["toolCalls"] == []
    assert vendor.requests[0].body["tool_choice"] == {"type": "tool", "name": "respond"}


async def test_openai_json_output_is_parsed(backend: Backend, vendor: VendorServer) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "number"}}}
    vendor.script(Reply(text='{"n": 42}'))
    deploy(backend, OPENAI, gpt(vendor, responseFormat="json", schema=schema))

    status, body, _ = await call(backend, "ask", {"prompt": "Answer as JSON"})

    assert status == 200
    assert body["result"]["parsed"] == {"n": 42}
    assert vendor.requests[0].body["response_format"]["json_schema"]["schema"] == schema


@pytest.mark.parametrize(("node_type", "provider"), [(CLAUDE, "claude"), (OPENAI, "gpt")])
async def test_429_is_retried_after_the_servers_delay(
    backend: Backend, vendor: VendorServer, node_type: str, provider: str
) -> None:
    vendor.script(Reply(status=429, retry_after="0"), Reply(text="after the wait"))
    deploy(backend, node_type, claude(vendor) if provider == "claude" else gpt(vendor))

    status, body, _ = await call(backend, "ask", {"prompt": "hi"})

    assert status == 200
    assert body["result"]["text"] == "after the wait"
    assert len(vendor.requests) == 2


async def test_a_500_that_persists_fails_the_node_with_the_vendors_message(
    backend: Backend, vendor: VendorServer
) -> None:
    vendor.script(*[Reply(status=500, retry_after="0")] * 3)
    deploy(backend, CLAUDE, claude(vendor))

    status, body, execution_id = await call(backend, "ask", {"prompt": "hi"})

    assert status == 400
    assert body["error"] == "Anthropic answered 500: Internal server error"
    assert len(vendor.requests) == 3  # the first try and the SDK's two retries
    step = next(s for s in await steps_of(backend, execution_id) if s["nodeId"] == "ai")
    assert step["status"] == "error"
    assert step["errorMessage"] == "Anthropic answered 500: Internal server error"


async def test_a_missing_credential_is_named(
    backend: Backend, vendor: VendorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    deploy(backend, CLAUDE, claude(vendor, credential="prod-claude"))

    status, body, _ = await call(backend, "ask", {"prompt": "hi"})

    assert status == 400
    assert "credential not found: prod-claude" in body["error"]
    assert vendor.requests == []


async def test_the_environment_variable_is_the_fallback(
    backend: Backend, vendor: VendorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-0000111122223333")
    vendor.script(Reply(text="ok"))
    deploy(backend, OPENAI, {k: v for k, v in gpt(vendor).items() if k != "credential"})

    status, _, _ = await call(backend, "ask", {"prompt": "hi"})

    assert status == 200
    assert vendor.requests[0].headers["authorization"] == "Bearer sk-from-env-0000111122223333"


async def test_the_runs_time_limit_cancels_a_slow_stream(backend: Backend, vendor: VendorServer) -> None:
    vendor.script(Reply(text="x" * 400, chunk_delay=0.05))  # 100 chunks: 5 s
    deploy(backend, CLAUDE, claude(vendor))
    await backend.security.set_permissions({"functions": {"ask": {"timeoutMs": 400}}})

    started = asyncio.get_running_loop().time()
    status, _, _ = await call(backend, "ask", {"prompt": "hi"})

    assert status == 504
    assert asyncio.get_running_loop().time() - started < 2.0
    chunks_then = len(vendor.chunk_times)
    await asyncio.sleep(0.3)
    assert len(vendor.chunk_times) <= chunks_then + 1  # the stream was closed: the server stops writing


async def test_streamed_text_reaches_subscribers_as_progress(backend: Backend, vendor: VendorServer) -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 3
    vendor.script(Reply(text=text, chunk_delay=0.01))
    deploy(backend, CLAUDE, claude(vendor))
    assert backend.bus is not None
    subscription = backend.bus.subscribe(BACKEND_ID)
    events: list[ExecutionEvent] = []

    async def collect() -> None:
        async for event in subscription:
            events.append(event)
            if event.kind == "execution:finished":
                return

    collector = asyncio.create_task(collect())
    status, _, _ = await call(backend, "ask", {"prompt": "hi"})
    await asyncio.wait_for(collector, 5)

    assert status == 200
    progress = [e for e in events if e.kind == "execution:step" and "progress" in e.data]
    assert len(progress) >= 2  # text arrived in several pieces, not only at the end
    assert all(e.data["nodeId"] == "ai" and e.data["status"] == "running" for e in progress)
    texts = [e.data["progress"]["text"] for e in progress]
    assert all(text.startswith(earlier) for earlier in texts)  # each carries the text so far
    assert texts[-1] == text
    times = [e.data["progress"] for e in progress]
    assert len(times) <= 1 + 0.6 * 20 + 2  # coalesced: about 0.6 s of streaming, at most 20 a second


async def test_no_key_reaches_the_history_file(
    backend: Backend, vendor: VendorServer, tmp_path: Path
) -> None:
    vendor.script(Reply(text=f"echo {ANTHROPIC_KEY}"))  # even a model that repeats the key
    deploy(backend, CLAUDE, claude(vendor))

    await call(backend, "ask", {"prompt": "hi"})
    assert backend.history is not None
    await backend.history.writer.flush()
    await backend.stop()

    assert files_holding(tmp_path, ANTHROPIC_KEY) == []
    assert files_holding(tmp_path, OPENAI_KEY) == []


async def test_conversation_messages_feed_the_next_call(backend: Backend, vendor: VendorServer) -> None:
    vendor.script(Reply(text="second answer"))
    history = [{"role": "user", "content": "first"}, {"role": "assistant", "content": "first answer"}]
    backend.workflows.deploy(
        "ask", one_node_function("ask", OPENAI, gpt(vendor, system="sys"), ("prompt", "messages"), ("text",))
    )

    status, body, _ = await call(backend, "ask", {"prompt": "second", "messages": history})

    assert status == 200
    assert vendor.requests[0].body["messages"] == [
        {"role": "system", "content": "sys"},
        *history,
        {"role": "user", "content": "second"},
    ]
    assert json.dumps(body["result"]["text"]) == '"second answer"'


async def test_cancelling_the_execution_closes_the_stream_and_records_the_node(
    backend: Backend, vendor: VendorServer
) -> None:
    from sidecar.debugging import service

    vendor.script(Reply(text="y" * 400, chunk_delay=0.05))
    deploy(backend, CLAUDE, claude(vendor))
    answer = asyncio.create_task(call(backend, "ask", {"prompt": "hi"}))
    await asyncio.wait_for(vendor.streaming.wait(), 10)
    (execution_id,) = backend.running.ids()

    cancelled = await service.cancel([backend], execution_id)
    status, _, _ = await answer

    assert cancelled["nodeId"] == "ai"
    assert status == 499
    chunks_then = len(vendor.chunk_times)
    await asyncio.sleep(0.3)
    assert len(vendor.chunk_times) <= chunks_then + 1
    execution = await execution_of(backend, execution_id)
    assert execution["status"] == "cancelled"
    step = next(s for s in execution["steps"] if s["nodeId"] == "ai")
    assert step["status"] == "error"
    assert step["errorMessage"] == "Run cancelled before the node finished"
