"""Graphs far deeper than Python's recursion limit run like shallow ones.

Noodl pulls upstream nodes and flags downstream ones with one nested call per node; the real runner
answers a chain of 3,000 nodes. Here the walks go on iteratively past a nesting bound, in the same
order, so depth changes nothing observable.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.runtime.graphs import component, conn, node, response_node, run_graph

SEND = conn("req", "receive", "resp", "send")
BOUNDARY = [node("ci", "Component Inputs"), node("co", "Component Outputs")]


def format_chain(length: int, pattern: str = "{v}") -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Request ``x`` → ``length`` String Format nodes in a row → Response ``y``, sent on receive
    (so the Response pulls the whole chain in its own update)."""
    nodes = [response_node()]
    connections = [SEND]
    previous = ("req", "pm-x")
    for index in range(length):
        nodes.append(node(f"s{index}", "String Format", {"format": pattern}))
        connections.append(conn(*previous, f"s{index}", "v"))
        previous = (f"s{index}", "formatted")
    connections.append(conn(*previous, "resp", "pm-y"))
    return nodes, connections


def answer(**values: Any) -> tuple[int, str]:
    return 200, json.dumps({"result": values}, separators=(",", ":"))


@pytest.mark.parametrize("length", [50, 1_000, 3_000])
async def test_a_long_chain_answers_with_the_value_passed_through_every_node(length: int) -> None:
    nodes, connections = format_chain(length)
    assert await run_graph(nodes, connections, {"x": "a"}, timeout_seconds=10.0) == answer(y="a")


async def test_every_node_of_a_deep_chain_runs_once_per_value_in_order() -> None:
    nodes, connections = format_chain(1_500, "{v}+")
    status, body = await run_graph(nodes, connections, {"x": "a"}, timeout_seconds=10.0)
    assert (status, json.loads(body)["result"]["y"]) == (200, "a" + "+" * 1_500)


async def test_a_chain_of_nested_component_instances_deeper_than_the_recursion_limit() -> None:
    ports = [{"name": "in", "plug": "input", "type": "*"}, {"name": "out", "plug": "output", "type": "*"}]
    depth = 400
    levels = [
        component(
            "L0",
            [*BOUNDARY, node("f", "String Format", {"format": "<{v}>"})],
            [conn("ci", "in", "f", "v"), conn("f", "formatted", "co", "out")],
            ports=ports,
        )
    ]
    for level in range(1, depth):
        levels.append(
            component(
                f"L{level}",
                [*BOUNDARY, node("i", f"/#__cloud__/L{level - 1}")],
                [conn("ci", "in", "i", "in"), conn("i", "out", "co", "out")],
                ports=ports,
            )
        )
    nodes = [node("top", f"/#__cloud__/L{depth - 1}"), response_node()]
    connections = [conn("req", "pm-x", "top", "in"), conn("top", "out", "resp", "pm-y"), SEND]
    status, body = await run_graph(
        nodes, connections, {"x": "a"}, extra_components=tuple(levels), timeout_seconds=10.0
    )
    assert (status, json.loads(body)["result"]["y"]) == (200, "<a>")
