"""Claude and OpenAI completion nodes: one chat completion per ``run``, streamed into the canvas."""

from __future__ import annotations

from typing import Any, ClassVar

from sidecar.ai import chat
from sidecar.ai.chat import AiCallError, ChatRequest, ChatResult, ToolSpec
from sidecar.ai.nodes.base import EVENTS, AiNode, field, result
from sidecar.ai.pricing import estimated_cost
from sidecar.runtime.ports import InputSpec
from sidecar.runtime.values import UNDEFINED

_FORMATS = {"name": "enum", "enums": [{"label": "Text", "value": "text"}, {"label": "JSON", "value": "json"}]}


def tool_specs(value: Any) -> tuple[ToolSpec, ...]:
    """``[{name, description, parameters}]`` (``input_schema`` is accepted for ``parameters``)."""
    if value is UNDEFINED or value is None or value == "":
        return ()
    if not isinstance(value, list):
        raise AiCallError("tools must be an array of {name, description, parameters}")
    tools = []
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise AiCallError("every tool needs a name")
        parameters = entry.get("parameters", entry.get("input_schema")) or {
            "type": "object",
            "properties": {},
        }
        if not isinstance(parameters, dict):
            raise AiCallError(f"tool {entry['name']!r}: parameters must be a JSON schema object")
        tools.append(ToolSpec(entry["name"], str(entry.get("description") or ""), parameters))
    return tuple(tools)


def chat_messages(prompt: str, messages: Any) -> list[dict[str, Any]]:
    """The conversation: the ``messages`` array, then ``prompt`` as the user's newest turn."""
    if messages is UNDEFINED or messages is None or messages == "":
        conversation: list[dict[str, Any]] = []
    elif isinstance(messages, list) and all(isinstance(m, dict) for m in messages):
        conversation = [dict(m) for m in messages]
    else:
        raise AiCallError("messages must be an array of {role, content}")
    if prompt:
        conversation.append({"role": "user", "content": prompt})
    if not conversation:
        raise AiCallError("nothing to send: give a prompt or messages")
    return conversation


def usage_outputs(provider: str, answer: ChatResult) -> dict[str, Any]:
    usage = {"inputTokens": answer.input_tokens, "outputTokens": answer.output_tokens}
    return {
        "usage": usage,
        "model": answer.model,
        "cost": estimated_cost(provider, answer.model, answer.input_tokens, answer.output_tokens),
    }


class ChatNode(AiNode):
    PROVIDER: ClassVar[str]
    DEFAULT_MODEL: ClassVar[str]

    async def work(self) -> dict[str, Any]:
        structured = self.text("responseFormat", "text") == "json"
        schema = self.fields.get("schema")
        if structured and not isinstance(schema, dict):
            raise AiCallError("a JSON response needs a schema (a JSON schema object)")
        messages = chat_messages(self.text("prompt"), self.fields.get("messages"))
        request = ChatRequest(
            provider=self.PROVIDER,
            model=self.text("model", self.DEFAULT_MODEL) or self.DEFAULT_MODEL,
            messages=messages,
            api_key=await self.ai.api_key(self.text("credential") or None, self.PROVIDER),
            system=self.text("system") or None,
            max_tokens=int(self.number("maxTokens", 1024) or 1024),
            temperature=self.number("temperature", None),
            tools=tool_specs(self.fields.get("tools")),
            response_schema=schema if structured else None,
            base_url=self.text("baseUrl") or None,
            timeout_seconds=self.timeout_seconds(),
            stream=self.fields.get("stream") is not False,
        )
        streamed: list[str] = []

        def on_text(delta: str) -> None:
            streamed.append(delta)
            self.progress({"text": "".join(streamed)})

        answer = await chat.complete(request, on_text)
        if streamed:
            self.progress({"text": answer.text, "done": True}, final=True)
        return {
            "text": answer.text,
            "parsed": answer.parsed if structured else UNDEFINED,
            "toolCalls": answer.tool_calls,
            "stopReason": answer.stop_reason,
            "messages": [*messages, answer.assistant_message()],
            **usage_outputs(self.PROVIDER, answer),
        }

    INPUTS: ClassVar[tuple[InputSpec, ...]] = (
        field("prompt", "string", display="Prompt", group="Message"),
        field("system", "string", display="System", group="Message"),
        field("messages", "array", display="Messages", group="Message"),
        field("model", "string", display="Model", group="Model"),
        field("maxTokens", "number", 1024, display="Max Tokens", group="Model"),
        field("temperature", "number", display="Temperature", group="Model"),
        field("tools", "array", display="Tools", group="Tools"),
        field("responseFormat", _FORMATS, "text", display="Response Format", group="Output"),
        field("schema", "object", display="JSON Schema", group="Output"),
        field("stream", "boolean", True, display="Stream", group="Output"),
        field("credential", "string", display="Credential", group="Connection"),
        field("baseUrl", "string", display="Base URL", group="Connection"),
        InputSpec("run", "signal", on_signal=AiNode._on_run, display_name="Run", group="Actions"),
    )
    OUTPUTS = (
        result("text", "string", "Text"),
        result("parsed", "object", "Parsed"),
        result("toolCalls", "array", "Tool Calls"),
        result("stopReason", "string", "Stop Reason"),
        result("messages", "array", "Messages"),
        result("usage", "object", "Usage"),
        result("model", "string", "Model"),
        result("cost", "number", "Estimated Cost (USD)"),
        result("error", "string", "Error"),
        *EVENTS,
    )


class ClaudeNode(ChatNode):
    TYPE = "noodl.ai.claude"
    DISPLAY_NAME = "Claude"
    PROVIDER = "anthropic"
    DEFAULT_MODEL = "claude-sonnet-4-5"
    DOCS = (
        "Sends a prompt (and earlier messages) to Claude through the Anthropic Messages API and outputs "
        "the answer. Text streams into the canvas as it arrives. Tools and a JSON schema are optional; "
        "the key comes from the named credential, else ANTHROPIC_API_KEY."
    )


class OpenAiNode(ChatNode):
    TYPE = "noodl.ai.openai"
    DISPLAY_NAME = "OpenAI"
    PROVIDER = "openai"
    DEFAULT_MODEL = "gpt-4o-mini"
    DOCS = (
        "Sends a prompt (and earlier messages) to an OpenAI chat model, or any server with the same API "
        "(Base URL), and outputs the answer. Text streams into the canvas as it arrives. Tools and a JSON "
        "schema are optional; the key comes from the named credential, else OPENAI_API_KEY."
    )
