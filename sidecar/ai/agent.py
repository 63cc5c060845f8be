"""A tool-calling agent as a LangGraph graph: model → (tools → model)* → answer, checkpointed per thread.

The model is Claude or OpenAI (``chat.complete``); each tool is a cloud function of the same backend
(its arguments are the function's JSON body, its answer the tool result). LangGraph keeps the
conversation in ``ai/agent-checkpoints.sqlite`` (``langgraph-checkpoint-sqlite``), so the same
``threadId`` resumes it, across restarts too. ``max_steps`` bounds the model calls of one turn.
The caller hears of every model and tool call through ``on_call`` (the node records them as steps).
"""

from __future__ import annotations

import dataclasses
import json
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypedDict

from sidecar.ai import chat, offloop_import
from sidecar.ai.chat import AiCallError, ChatRequest, ChatResult, ToolSpec
from sidecar.ai.port import AiPort

CHECKPOINTS_FILE = "agent-checkpoints.sqlite"
LANGGRAPH_MODULES = ("langgraph.checkpoint.sqlite.aio", "langgraph.errors", "langgraph.graph")
MAX_TOOL_ANSWER_CHARS = 20_000


class AgentState(TypedDict):
    messages: Annotated[list[dict[str, Any]], operator.add]


@dataclass(frozen=True)
class CallRecord:
    """One model or tool call of the agent, for the history."""

    kind: str  # "model" | "tool"
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    error: str | None = None


@dataclass
class AgentTurn:
    text: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    model_calls: int = 0
    tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    model: str = ""


OnCall = Callable[[CallRecord], None]
OnModelText = Callable[[int, str], None]
"""``(model call number, its text so far)`` while a model call streams."""


async def run_turn(
    port: AiPort,
    template: ChatRequest,
    message: str,
    thread_id: str,
    max_steps: int,
    on_call: OnCall,
    on_text: OnModelText | None = None,
) -> AgentTurn:
    """One user ``message`` on ``thread_id``: the model answers, calling tools as it decides."""
    await offloop_import.load(*LANGGRAPH_MODULES)
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    from langgraph.errors import GraphRecursionError

    turn = AgentTurn()
    graph = _graph(port, template, turn, on_call, on_text)
    path = _checkpoints(port.data_dir)
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        app = graph.compile(checkpointer=saver)
        config: Any = {"configurable": {"thread_id": thread_id}, "recursion_limit": 2 * max_steps}
        try:
            state = await app.ainvoke({"messages": [{"role": "user", "content": message}]}, config)
        except GraphRecursionError:
            raise AiCallError(f"the agent reached its step limit ({max_steps} model calls)") from None
    turn.messages = list(state["messages"])
    return turn


def _checkpoints(folder: Path) -> Path:
    from sidecar.private_files import private_database, private_dir

    private_dir(folder)
    return private_database(folder / CHECKPOINTS_FILE)


def _graph(
    port: AiPort, template: ChatRequest, turn: AgentTurn, on_call: OnCall, on_text: OnModelText | None
) -> Any:
    from langgraph.graph import END, START, StateGraph

    async def model(state: AgentState) -> dict[str, Any]:
        request = dataclasses.replace(template, messages=state["messages"])
        number = turn.model_calls + 1
        pieces: list[str] = []

        def streamed(delta: str) -> None:
            pieces.append(delta)
            if on_text is not None:
                on_text(number, "".join(pieces))

        try:
            answer = await chat.complete(request, streamed)
        except AiCallError as error:
            on_call(
                CallRecord("model", template.model, {"messages": len(state["messages"])}, {}, error.message)
            )
            raise
        _count(turn, answer)
        on_call(
            CallRecord("model", answer.model or template.model, _model_inputs(state), _model_outputs(answer))
        )
        return {"messages": [answer.assistant_message()]}

    async def tools(state: AgentState) -> dict[str, Any]:
        calls = state["messages"][-1].get("toolCalls") or []
        return {"messages": [await _call_tool(port, template.tools, call, turn, on_call) for call in calls]}

    def next_step(state: AgentState) -> str:
        return "tools" if state["messages"][-1].get("toolCalls") else END

    graph = StateGraph(AgentState)
    graph.add_node("model", model)
    graph.add_node("tools", tools)
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", next_step, ["tools", END])
    graph.add_edge("tools", "model")
    return graph


async def _call_tool(
    port: AiPort, specs: tuple[ToolSpec, ...], call: dict[str, Any], turn: AgentTurn, on_call: OnCall
) -> dict[str, Any]:
    name = str(call.get("name"))
    arguments = call.get("arguments") or {}
    turn.tool_calls += 1
    error: str | None
    if name not in {spec.name for spec in specs}:
        answer, error = json.dumps({"error": f"no tool named {name!r}"}), f"unknown tool {name!r}"
    else:
        status, body = await port.call_function(name, json.dumps(arguments))
        answer = body[:MAX_TOOL_ANSWER_CHARS]
        error = None if status < 400 else f"the function answered {status}"
    on_call(CallRecord("tool", name, {"arguments": arguments}, {"result": _json_or_text(answer)}, error))
    return {"role": "tool", "toolCallId": call.get("id", ""), "content": answer}


def _count(turn: AgentTurn, answer: ChatResult) -> None:
    turn.model_calls += 1
    turn.input_tokens += answer.input_tokens
    turn.output_tokens += answer.output_tokens
    turn.model = answer.model or turn.model
    turn.text = answer.text


def _model_inputs(state: AgentState) -> dict[str, Any]:
    return {"messages": len(state["messages"]), "last": state["messages"][-1]}


def _model_outputs(answer: ChatResult) -> dict[str, Any]:
    return {
        "text": answer.text,
        "toolCalls": answer.tool_calls,
        "stopReason": answer.stop_reason,
        "usage": {"inputTokens": answer.input_tokens, "outputTokens": answer.output_tokens},
    }


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
