"""Values cross component instances within the update that sends them.

Recorded from the real CloudRunner: when a Request's body value goes into a component instance by a
connection, through nodes inside (Component Inputs → … → Component Outputs) and back out, and the
Response is sent on the Request's ``receive``, the Response already sees the propagated value. The
instance's update also updates its Component Outputs nodes, which pull the inner nodes, which pull
the instance's inputs: the whole chain settles inside one pull.
"""

from __future__ import annotations

import json
from typing import Any

from tests.runtime.graphs import component, conn, node, response_node, run_graph

SEND = conn("req", "receive", "resp", "send")
IN_OUT_PORTS = [{"name": "in", "plug": "input", "type": "*"}, {"name": "out", "plug": "output", "type": "*"}]


def result(**values: Any) -> tuple[int, str]:
    return 200, json.dumps({"result": values}, separators=(",", ":"), ensure_ascii=False)


def pass_through(name: str, inner: dict[str, Any], inner_in: str, inner_out: str) -> dict[str, Any]:
    """A component whose ``in`` goes through one inner node to ``out``."""
    return component(
        name,
        [node("ci", "Component Inputs"), node("co", "Component Outputs"), inner],
        [conn("ci", "in", inner["id"], inner_in), conn(inner["id"], inner_out, "co", "out")],
        ports=IN_OUT_PORTS,
    )


DOT = pass_through("Dot", node("fmt", "String Format", {"format": "{v}."}), "v", "formatted")
PAREN = pass_through("Paren", node("fmt", "String Format", {"format": "({v})"}), "v", "formatted")


async def test_a_value_through_a_pass_through_component_reaches_the_response_sent_on_receive() -> None:
    nodes = [node("c", "/#__cloud__/Dot"), response_node()]
    connections = [conn("req", "pm-x", "c", "in"), conn("c", "out", "resp", "pm-y"), SEND]
    assert await run_graph(nodes, connections, {"x": "a"}, extra_components=(DOT,)) == result(y="a.")


async def test_two_instances_in_sequence_both_propagate_in_the_same_update() -> None:
    nodes = [node("c1", "/#__cloud__/Paren"), node("c2", "/#__cloud__/Paren"), response_node()]
    connections = [
        conn("req", "pm-x", "c1", "in"),
        conn("c1", "out", "c2", "in"),
        conn("c2", "out", "resp", "pm-y"),
        SEND,
    ]
    assert await run_graph(nodes, connections, {"x": "a"}, extra_components=(PAREN,)) == result(y="((a))")


async def test_an_expression_inside_a_component_answers_with_the_computed_value() -> None:
    times_two = pass_through("Twice", node("e", "Expression", {"expression": "a * 2"}), "a", "result")
    nodes = [node("c", "/#__cloud__/Twice"), response_node()]
    connections = [conn("req", "pm-x", "c", "in"), conn("c", "out", "resp", "pm-y"), SEND]
    assert await run_graph(nodes, connections, {"x": 21}, extra_components=(times_two,)) == result(y=42)


async def test_nested_instances_propagate_through_every_level() -> None:
    outer = component(
        "Outer",
        [node("ci", "Component Inputs"), node("co", "Component Outputs"), node("inner", "/#__cloud__/Dot")],
        [conn("ci", "in", "inner", "in"), conn("inner", "out", "co", "out")],
        ports=IN_OUT_PORTS,
    )
    nodes = [node("c", "/#__cloud__/Outer"), response_node()]
    connections = [conn("req", "pm-x", "c", "in"), conn("c", "out", "resp", "pm-y"), SEND]
    assert await run_graph(nodes, connections, {"x": "a"}, extra_components=(outer, DOT)) == result(y="a.")
