"""The LangGraph Agent node: tools are the backend's functions, threads resume from checkpoints."""

from __future__ import annotations

from typing import Any

from sidecar.backends.backend import Backend
from tests.ai.conftest import call, one_node_function, steps_of
from tests.ai.vendor_servers import Reply, VendorServer
from tests.runtime.graphs import component, conn, export, function_node, request_node, response_node

TOOLS = [
    {
        "function": "lookup_order",
        "description": "The status of an order",
        "parameters": {
            "type": "object",
            "properties": {"orderId": {"type": "string"}},
            "required": ["orderId"],
        },
    },
    {"function": "count_items", "description": "How many items the shop has"},
]


def tool_function(name: str, param: str, script: str) -> dict[str, Any]:
    """Function ``name``: body field ``param`` into a Function node whose ``out`` is the answer."""
    return export(
        component(
            name,
            [
                request_node(params=param),
                function_node(script, outputs=("out",)),
                response_node(params="out"),
            ],
            [
                conn("req", f"pm-{param}", "fn", f"in-{param}"),
                conn("req", "receive", "fn", "run"),
                conn("fn", "out-out", "resp", "pm-out"),
                conn("fn", "out-Done", "resp", "send"),
            ],
        )
    )


def deploy_shop(backend: Backend, vendor: VendorServer) -> None:
    lookup = "Outputs.out = {orderId: Inputs.orderId, status: 'shipped'}; Outputs.Done();"
    backend.workflows.deploy("lookup_order", tool_function("lookup_order", "orderId", lookup))
    backend.workflows.deploy(
        "count_items", tool_function("count_items", "unused", "Outputs.out = 3; Outputs.Done();")
    )
    settings = {
        "credential": "claude",
        "baseUrl": vendor.root_url,
        "tools": TOOLS,
        "system": "You run a shop.",
    }
    backend.workflows.deploy(
        "chat",
        one_node_function(
            "chat", "noodl.ai.agent", settings, ("message", "threadId"), ("text", "modelCalls", "toolCalls")
        ),
    )


async def test_a_two_tool_conversation_resumes_after_a_restart(
    backend: Backend, vendor: VendorServer
) -> None:
    deploy_shop(backend, vendor)
    vendor.script(
        Reply(tool_calls=[("lookup_order", {"orderId": "42"})]),
        Reply(text="Order 42 has shipped."),
        Reply(tool_calls=[("count_items", {})]),
        Reply(text="The shop has 3 items."),
    )

    status, first, execution_id = await call(
        backend, "chat", {"message": "Where is order 42?", "threadId": "t1"}
    )
    assert status == 200
    assert first["result"] == {"text": "Order 42 has shipped.", "modelCalls": 2, "toolCalls": 1}
    tool_result = vendor.requests[1].body["messages"][-1]["content"][0]
    assert tool_result["type"] == "tool_result"
    assert tool_result["tool_use_id"] == "toolu_00"
    assert '"status":"shipped"' in tool_result["content"].replace(" ", "")

    _, second, _ = await call(backend, "chat", {"message": "How many items?", "threadId": "t1"})
    assert second["result"]["text"] == "The shop has 3 items."

    await backend.stop()
    await backend.start()
    vendor.script(Reply(text="We talked about order 42 and the item count."))
    _, third, _ = await call(backend, "chat", {"message": "What did we discuss?", "threadId": "t1"})

    assert third["result"]["text"] == "We talked about order 42 and the item count."
    resumed = vendor.requests[-1].body["messages"]
    user_turns = [m["content"] for m in resumed if m["role"] == "user" and isinstance(m["content"], str)]
    assert user_turns == ["Where is order 42?", "How many items?", "What did we discuss?"]
    assert len(resumed) == 9  # 3 questions, 2 tool calls with their results, 2 answers
    assert vendor.requests[-1].body["tools"][0]["name"] == "lookup_order"

    steps = await steps_of(backend, execution_id)
    children = [(s["nodeId"], s["nodeType"]) for s in steps if s["nodeId"].startswith("ai/")]
    assert children == [
        ("ai/model", "noodl.ai.agent.model"),
        ("ai/tool:lookup_order", "noodl.ai.agent.tool"),
        ("ai/model", "noodl.ai.agent.model"),
    ]
    tool_step = next(s for s in steps if s["nodeId"] == "ai/tool:lookup_order")
    assert tool_step["inputData"]["arguments"] == {"orderId": "42"}
    assert tool_step["outputData"]["result"] == {"result": {"out": {"orderId": "42", "status": "shipped"}}}


async def test_other_threads_start_fresh(backend: Backend, vendor: VendorServer) -> None:
    deploy_shop(backend, vendor)
    vendor.script(Reply(text="hi one"), Reply(text="hi two"))

    await call(backend, "chat", {"message": "one", "threadId": "a"})
    await call(backend, "chat", {"message": "two", "threadId": "b"})

    assert vendor.requests[1].body["messages"] == [{"role": "user", "content": "two"}]


async def test_the_step_limit_stops_a_looping_agent(backend: Backend, vendor: VendorServer) -> None:
    deploy_shop(backend, vendor)
    backend.workflows.deploy(
        "loop",
        one_node_function(
            "loop",
            "noodl.ai.agent",
            {"credential": "claude", "baseUrl": vendor.root_url, "tools": TOOLS, "maxSteps": 2},
            ("message", "threadId"),
            ("text",),
        ),
    )
    vendor.script(*[Reply(tool_calls=[("count_items", {})])] * 5)

    status, body, _ = await call(backend, "loop", {"message": "count forever", "threadId": "x"})

    assert status == 400
    assert body["error"] == "the agent reached its step limit (2 model calls)"
    assert len(vendor.requests) == 2
