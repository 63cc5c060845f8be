"""The LangGraph Agent node: a tool-calling agent over Claude or OpenAI whose tools are the backend's
own cloud functions; each model and tool call is a child step of the node in history."""

from __future__ import annotations

from typing import Any, ClassVar

from sidecar.ai.agent import CallRecord, run_turn
from sidecar.ai.chat import AiCallError, ChatRequest, ToolSpec
from sidecar.ai.memory import MAX_THREAD_ID_CHARS
from sidecar.ai.nodes.base import EVENTS, AiNode, field, result
from sidecar.ai.pricing import estimated_cost
from sidecar.runtime.ports import InputSpec
from sidecar.runtime.values import UNDEFINED

_PROVIDERS = {
    "name": "enum",
    "enums": [{"label": "Claude", "value": "anthropic"}, {"label": "OpenAI", "value": "openai"}],
}
DEFAULT_MODELS = {"anthropic": "claude-sonnet-4-5", "openai": "gpt-4o-mini"}
MAX_STEPS_LIMIT = 50


def function_tools(value: Any) -> tuple[ToolSpec, ...]:
    """``[{function, description, parameters}]``: each tool is the backend's function of that name."""
    if value is UNDEFINED or value is None or value == "":
        return ()
    if not isinstance(value, list):
        raise AiCallError("tools must be an array of {function, description, parameters}")
    tools = []
    for entry in value:
        name = entry.get("function", entry.get("name")) if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            raise AiCallError("every tool names a cloud function (function)")
        parameters = entry.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(parameters, dict):
            raise AiCallError(f"tool {name!r}: parameters must be a JSON schema object")
        tools.append(
            ToolSpec(name, str(entry.get("description") or f"Calls the {name} function."), parameters)
        )
    return tuple(tools)


class AgentNode(AiNode):
    TYPE = "noodl.ai.agent"
    DISPLAY_NAME = "LangGraph Agent"
    DEFAULTS: ClassVar[dict[str, Any]] = {"provider": "anthropic", "maxSteps": 8}
    DOCS = (
        "A tool-calling agent (LangGraph): the model answers Message, calling the backend's cloud functions "
        "listed in Tools as it decides. The conversation is kept per Thread Id (it resumes after a "
        "restart). Max Steps bounds the model calls of one message. Every model and tool call is recorded "
        "as a step of this node."
    )

    async def work(self) -> dict[str, Any]:
        provider = self.text("provider", "anthropic")
        if provider not in DEFAULT_MODELS:
            raise AiCallError(f"unknown provider {provider!r} (anthropic or openai)")
        message = self.text("message")
        thread = self.text("threadId")
        if not message:
            raise AiCallError("the agent needs a message")
        if not thread or len(thread) > MAX_THREAD_ID_CHARS:
            raise AiCallError(f"threadId must be 1 to {MAX_THREAD_ID_CHARS} characters")
        steps = int(self.number("maxSteps", 8) or 8)
        template = ChatRequest(
            provider=provider,
            model=self.text("model") or DEFAULT_MODELS[provider],
            messages=[],
            api_key=await self.ai.api_key(self.text("credential") or None, provider),
            system=self.text("system") or None,
            max_tokens=int(self.number("maxTokens", 1024) or 1024),
            tools=function_tools(self.fields.get("tools")),
            base_url=self.text("baseUrl") or None,
            timeout_seconds=self.timeout_seconds(),
        )
        limit = max(1, min(steps, MAX_STEPS_LIMIT))
        turn = await run_turn(self.ai, template, message, thread, limit, self._record, self._streamed)
        return {
            "text": turn.text,
            "messages": turn.messages,
            "modelCalls": turn.model_calls,
            "toolCalls": turn.tool_calls,
            "usage": {"inputTokens": turn.input_tokens, "outputTokens": turn.output_tokens},
            "cost": estimated_cost(provider, turn.model, turn.input_tokens, turn.output_tokens),
        }

    def _streamed(self, model_call: int, text: str) -> None:
        self.progress({"text": text, "modelCall": model_call})

    def _record(self, call: CallRecord) -> None:
        """A child step: ``<node id>/model`` or ``<node id>/tool:<function>``, typed as the call."""
        recorder = self.child_recorder()
        if recorder is None or self.ctx.settled:
            return
        child = f"{self.id}/model" if call.kind == "model" else f"{self.id}/tool:{call.name}"
        kind = f"{self.TYPE}.{call.kind}"
        recorder.node_started(self.ctx.run_id, child, kind, {"name": call.name, **call.inputs})
        if call.error is not None:
            recorder.node_failed(self.ctx.run_id, child, kind, call.error)
        else:
            recorder.node_finished(self.ctx.run_id, child, kind, call.outputs)

    INPUTS: ClassVar[tuple[InputSpec, ...]] = (
        field("message", "string", display="Message"),
        field("threadId", "string", display="Thread Id"),
        field("system", "string", display="System"),
        field("tools", "array", display="Tools"),
        field("provider", _PROVIDERS, "anthropic", display="Provider", group="Model"),
        field("model", "string", display="Model", group="Model"),
        field("maxTokens", "number", 1024, display="Max Tokens", group="Model"),
        field("maxSteps", "number", 8, display="Max Steps", group="Model"),
        field("credential", "string", display="Credential", group="Connection"),
        field("baseUrl", "string", display="Base URL", group="Connection"),
        InputSpec("run", "signal", on_signal=AiNode._on_run, display_name="Run", group="Actions"),
    )
    OUTPUTS = (
        result("text", "string", "Text"),
        result("messages", "array", "Messages"),
        result("modelCalls", "number", "Model Calls"),
        result("toolCalls", "number", "Tool Calls"),
        result("usage", "object", "Usage"),
        result("cost", "number", "Estimated Cost (USD)"),
        result("error", "string", "Error"),
        *EVENTS,
    )
