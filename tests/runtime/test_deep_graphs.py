"""Graphs far deeper than Python's recursion limit run like shallow ones.

Noodl pulls upstream nodes and flags downstream ones with one nested call per node; the real runner
answers a chain of 3,000 nodes. Here the walks go on iteratively past a nesting bound, in the same
order, so depth changes nothing observable.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sidecar.errors import WorkflowExportError
from sidecar.runtime import Runtime
from sidecar.runtime.export import MAX_INSTANCE_NESTING
from tests.runtime.graphs import component, conn, export, node, request_node, response_node, run_graph

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


def nested_levels(depth: int) -> list[dict[str, Any]]:
    """Components L0 … L<depth-1>: L0 wraps its input in ``<…>``, each other level holds the one below."""
    ports = [{"name": "in", "plug": "input", "type": "*"}, {"name": "out", "plug": "output", "type": "*"}]
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
    return levels


async def test_component_instances_nested_to_the_load_limit_propagate_through_every_level() -> None:
    depth = MAX_INSTANCE_NESTING - 1  # the function's own component is the top level
    nodes = [node("top", f"/#__cloud__/L{depth - 1}"), response_node()]
    connections = [conn("req", "pm-x", "top", "in"), conn("top", "out", "resp", "pm-y"), SEND]
    status, body = await run_graph(
        nodes, connections, {"x": "a"}, extra_components=tuple(nested_levels(depth)), timeout_seconds=10.0
    )
    assert (status, json.loads(body)["result"]["y"]) == (200, "<a>")


def test_an_export_nesting_instances_past_the_limit_is_refused_at_load_naming_the_component() -> None:
    levels = nested_levels(5 * MAX_INSTANCE_NESTING)
    graph = export(component("f", [request_node(), node("top", levels[-1]["name"])], []), *levels)
    with pytest.raises(WorkflowExportError, match="nest more than 200 levels") as refused:
        Runtime.from_export(graph)
    assert refused.value.http_status == 400


def test_a_long_cycle_of_instances_is_reported_as_a_cycle_not_a_stack_overflow() -> None:
    levels = nested_levels(3 * MAX_INSTANCE_NESTING)
    levels[0]["nodes"].append(node("back", levels[-1]["name"]))  # the innermost level holds the outermost
    with pytest.raises(WorkflowExportError, match="which contains it"):
        Runtime.from_export(export(*levels))
