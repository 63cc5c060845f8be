"""One chat completion through a vendor's own SDK: Anthropic Messages or OpenAI Chat Completions.

Callers speak one neutral shape (:class:`ChatRequest`, :class:`ChatResult`); this module turns it into
each vendor's request and back. Messages are ``{"role": "user" | "assistant" | "tool", "content": …}``;
an assistant message may carry ``toolCalls`` (``[{id, name, arguments}]``) and a tool message its
``toolCallId``. Retries on 429 and 5xx (honouring ``retry-after``) are the SDKs' own; the caller's task
being cancelled (the run's time limit, a cancel) closes the HTTP stream. The SDKs are imported on first
use: they cost a second of start-up that a backend without AI nodes should never pay.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sidecar.ai import offloop_import

OnText = Callable[[str], None]
RESPOND_TOOL = "respond"
"""The tool a Claude call with a JSON schema is made to call: its input is the parsed answer."""
PROVIDERS = ("anthropic", "openai")


class AiCallError(Exception):
    """A provider call failed for good (after the SDK's retries): ``message`` says who answered what."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]
    """A JSON schema of the tool's arguments (an object schema)."""


@dataclass(frozen=True)
class ChatRequest:
    provider: str
    model: str
    messages: list[dict[str, Any]]
    api_key: str
    system: str | None = None
    max_tokens: int = 1024
    temperature: float | None = None
    tools: tuple[ToolSpec, ...] = ()
    response_schema: dict[str, Any] | None = None
    base_url: str | None = None
    timeout_seconds: float = 60.0
    max_retries: int = 2
    stream: bool = True


@dataclass
class ChatResult:
    text: str = ""
    parsed: Any = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0

    def assistant_message(self) -> dict[str, Any]:
        """This answer as the next message of the conversation."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.tool_calls:
            message["toolCalls"] = self.tool_calls
        return message


async def complete(request: ChatRequest, on_text: OnText | None = None) -> ChatResult:
    """Send ``request``; text deltas go to ``on_text`` as they arrive when the request streams."""
    if request.provider == "anthropic":
        return await _anthropic(request, on_text)
    if request.provider == "openai":
        return await _openai(request, on_text)
    raise AiCallError(f"unknown provider {request.provider!r} (expected one of {', '.join(PROVIDERS)})")


# ---- Anthropic Messages ---------------------------------------------------------------------------------
def anthropic_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Neutral messages as Messages API turns: tool results become user turns of ``tool_result`` blocks."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        if role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": str(message.get("toolCallId", "")),
                "content": _text(message.get("content")),
            }
            if turns and turns[-1]["role"] == "user" and isinstance(turns[-1]["content"], list):
                turns[-1]["content"].append(block)
            else:
                turns.append({"role": "user", "content": [block]})
        elif role == "assistant" and message.get("toolCalls"):
            blocks: list[dict[str, Any]] = []
            if message.get("content"):
                blocks.append({"type": "text", "text": _text(message["content"])})
            for call in message["toolCalls"]:
                blocks.append(
                    {"type": "tool_use", "id": call["id"], "name": call["name"], "input": call["arguments"]}
                )
            turns.append({"role": "assistant", "content": blocks})
        elif role in ("user", "assistant"):
            content = message.get("content")
            turns.append({"role": role, "content": content if isinstance(content, list) else _text(content)})
    return turns


async def _anthropic(request: ChatRequest, on_text: OnText | None) -> ChatResult:
    await offloop_import.load("anthropic")
    import anthropic

    client = anthropic.AsyncAnthropic(
        api_key=request.api_key,
        base_url=request.base_url or None,
        max_retries=request.max_retries,
        timeout=request.timeout_seconds,
    )
    params: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": anthropic_messages(request.messages),
    }
    if request.system:
        params["system"] = request.system
    if request.temperature is not None:
        params["temperature"] = request.temperature
    tools = [
        {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}
        for tool in request.tools
    ]
    if request.response_schema is not None:
        tools.append(
            {"name": RESPOND_TOOL, "description": "Give the answer.", "input_schema": request.response_schema}
        )
        params["tool_choice"] = {"type": "tool", "name": RESPOND_TOOL}
    if tools:
        params["tools"] = tools
    try:
        with sdk_errors("Anthropic", anthropic):
            if request.stream:
                async with client.messages.stream(**params) as stream:
                    async for event in stream:
                        if event.type == "text" and on_text is not None:
                            on_text(event.text)
                    message = await stream.get_final_message()
            else:
                message = await client.messages.create(**params)
    finally:
        await client.close()
    return _anthropic_result(message, request.response_schema is not None)


def _anthropic_result(message: Any, structured: bool) -> ChatResult:
    result = ChatResult(model=message.model, stop_reason=message.stop_reason)
    texts = []
    for block in message.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            if structured and block.name == RESPOND_TOOL:
                result.parsed = block.input
            else:
                result.tool_calls.append({"id": block.id, "name": block.name, "arguments": block.input})
    result.text = "".join(texts)
    if structured and result.parsed is not None and not result.text:
        result.text = json.dumps(result.parsed)
    result.input_tokens = int(message.usage.input_tokens or 0)
    result.output_tokens = int(message.usage.output_tokens or 0)
    return result


# ---- OpenAI Chat Completions ------------------------------------------------------------------------------
def openai_messages(system: str | None, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for message in messages:
        role = message.get("role")
        if role == "tool":
            turns.append(
                {
                    "role": "tool",
                    "tool_call_id": str(message.get("toolCallId", "")),
                    "content": _text(message.get("content")),
                }
            )
        elif role == "assistant" and message.get("toolCalls"):
            turns.append(
                {
                    "role": "assistant",
                    "content": _text(message.get("content")) or None,
                    "tool_calls": [
                        {
                            "id": call["id"],
                            "type": "function",
                            "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
                        }
                        for call in message["toolCalls"]
                    ],
                }
            )
        elif role in ("user", "assistant", "system"):
            content = message.get("content")
            turns.append({"role": role, "content": content if isinstance(content, list) else _text(content)})
    return turns


async def _openai(request: ChatRequest, on_text: OnText | None) -> ChatResult:
    await offloop_import.load("openai")
    import openai

    client = openai.AsyncOpenAI(
        api_key=request.api_key,
        base_url=request.base_url or None,
        max_retries=request.max_retries,
        timeout=request.timeout_seconds,
    )
    params: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": openai_messages(request.system, request.messages),
    }
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.tools:
        params["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                },
            }
            for tool in request.tools
        ]
    if request.response_schema is not None:
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": request.response_schema},
        }
    try:
        with sdk_errors("OpenAI", openai):
            if request.stream:
                result = await _openai_stream(client, params, on_text)
            else:
                result = _openai_result(await client.chat.completions.create(**params))
    finally:
        await client.close()
    if request.response_schema is not None:
        result.parsed = _parse_json(result.text)
    return result


async def _openai_stream(client: Any, params: dict[str, Any], on_text: OnText | None) -> ChatResult:
    result = ChatResult()
    texts: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    stream = await client.chat.completions.create(
        **params, stream=True, stream_options={"include_usage": True}
    )
    async for chunk in stream:
        result.model = chunk.model or result.model
        if chunk.usage is not None:
            result.input_tokens = int(chunk.usage.prompt_tokens or 0)
            result.output_tokens = int(chunk.usage.completion_tokens or 0)
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                texts.append(delta.content)
                if on_text is not None:
                    on_text(delta.content)
            for part in delta.tool_calls or ():
                call = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = part.id or call["id"]
                if part.function is not None:
                    call["name"] += part.function.name or ""
                    call["arguments"] += part.function.arguments or ""
            if choice.finish_reason:
                result.stop_reason = choice.finish_reason
    result.text = "".join(texts)
    result.tool_calls = [
        _tool_call(call["id"], call["name"], call["arguments"]) for _, call in sorted(calls.items())
    ]
    return result


def _openai_result(response: Any) -> ChatResult:
    choice = response.choices[0]
    message = choice.message
    result = ChatResult(text=message.content or "", model=response.model, stop_reason=choice.finish_reason)
    for call in message.tool_calls or ():
        result.tool_calls.append(_tool_call(call.id, call.function.name, call.function.arguments))
    if response.usage is not None:
        result.input_tokens = int(response.usage.prompt_tokens or 0)
        result.output_tokens = int(response.usage.completion_tokens or 0)
    return result


def _tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    parsed = _parse_json(arguments or "{}")
    return {"id": call_id, "name": name, "arguments": parsed if isinstance(parsed, dict) else {}}


# ---- shared ---------------------------------------------------------------------------------------------
def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise AiCallError(f"the model's answer is not the JSON asked for: {text[:200]!r}") from None


@contextmanager
def sdk_errors(vendor: str, sdk: Any) -> Iterator[None]:
    """A vendor SDK's failures (after its own retries) as :class:`AiCallError` saying who answered what.
    ``sdk`` is the SDK's module: both name their errors alike."""
    try:
        yield
    except sdk.APIStatusError as error:
        raise AiCallError(
            f"{vendor} answered {error.status_code}: {sdk_message(error)}", error.status_code
        ) from None
    except sdk.APITimeoutError:  # before its base class, APIConnectionError
        raise AiCallError(f"{vendor} did not answer in time") from None
    except sdk.APIConnectionError as error:
        raise AiCallError(f"could not reach {vendor}: {error}") from None


def sdk_message(error: Any) -> str:
    """The vendor's own error message when its body carries one (``{"error": {"message": …}}``)."""
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    return str(getattr(error, "message", error))
