"""Workflow IF and Workflow Switch: which branch fires, with what data, and what a failure records."""

from __future__ import annotations

from typing import Any

from sidecar.history import ExecutionHistory
from tests.runtime.graphs import conn, node
from tests.workflow.graphs import error_steps, run_flow, run_recorded, steps_of


def if_graph(parameters: dict[str, Any], inputs: list[dict[str, str]]) -> tuple[list[Any], list[Any]]:
    """Request → IF; onTrue answers ``{"branch": "true", "data": …}``, onFalse ``"false"``."""
    nodes = [
        node("if", "Workflow IF", parameters),
        node("yes", "String", {"value": "true"}),
        node("no", "String", {"value": "false"}),
    ]
    connections = [
        *inputs,
        conn("req", "receive", "if", "run"),
        conn("if", "onTrue", "yes", "saveValue"),
        conn("if", "onFalse", "no", "saveValue"),
        conn("yes", "stored", "resp", "pm-branch"),
        conn("no", "stored", "resp", "pm-branch"),
        conn("yes", "savedValue", "resp", "pm-branch"),
        conn("no", "savedValue", "resp", "pm-branch"),
        conn("if", "data", "resp", "pm-data"),
        conn("if", "onTrue", "resp", "send"),
        conn("if", "onFalse", "resp", "send"),
    ]
    return nodes, connections


async def test_if_routes_on_the_condition_and_passes_data_through() -> None:
    nodes, connections = if_graph(
        {}, [conn("req", "pm-ok", "if", "condition"), conn("req", "pm-order", "if", "data")]
    )

    taken = await run_flow(nodes, connections, {"ok": True, "order": {"id": 7}})
    not_taken = await run_flow(nodes, connections, {"ok": 0, "order": {"id": 8}})

    assert taken.result == {"branch": "true", "data": {"id": 7}}
    assert not_taken.result == {"branch": "false", "data": {"id": 8}}


async def test_if_without_a_condition_takes_the_false_branch() -> None:
    nodes, connections = if_graph({}, [])

    answer = await run_flow(nodes, connections)

    assert answer.result == {"branch": "false"}


async def test_if_expression_mode_reads_named_inputs_and_data() -> None:
    parameters = {"expression": "data.total > limit && country === 'SE'"}
    wires = [
        conn("req", "pm-order", "if", "data"),
        conn("req", "pm-limit", "if", "limit"),
        conn("req", "pm-country", "if", "country"),
    ]
    nodes, connections = if_graph(parameters, wires)

    big = await run_flow(nodes, connections, {"order": {"total": 120}, "limit": 100, "country": "SE"})
    small = await run_flow(nodes, connections, {"order": {"total": 80}, "limit": 100, "country": "SE"})
    abroad = await run_flow(nodes, connections, {"order": {"total": 120}, "limit": 100, "country": "NO"})

    assert [a.result["branch"] for a in (big, small, abroad)] == ["true", "false", "false"]


async def test_a_throwing_if_expression_is_an_error_step_with_the_node_id(history: ExecutionHistory) -> None:
    nodes, connections = if_graph(
        {"expression": "data.missing.deeper > 1"}, [conn("req", "pm-o", "if", "data")]
    )

    answer, stored = await run_recorded(history, nodes, connections, {"o": {}}, timeout_seconds=0.2)

    assert answer.status == 504  # no branch fired, so nothing answered
    [(node_id, message)] = error_steps(stored)
    assert node_id == "if"
    assert "IF expression failed" in message
    assert "TypeError" in message


def fired(answer: Any) -> list[str]:
    """Labels whose Boolean was set (unset Booleans answer ``false``)."""
    return [key for key, value in answer.result.items() if value is True]


def switch_graph(parameters: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Request.value → Switch; each case_<n> and default saves its label into ``hit``, then answers."""
    labels = ["case_0", "case_1", "case_2", "default"]
    nodes: list[Any] = [node("switch", "Workflow Switch", parameters)]
    connections = [
        conn("req", "pm-value", "switch", "value"),
        conn("req", "pm-data", "switch", "data"),
        conn("req", "receive", "switch", "run"),
        conn("switch", "data", "resp", "pm-data"),
        conn("switch", "matchedIndex", "resp", "pm-index"),
    ]
    for label in labels:
        nodes.append(node(f"hit-{label}", "Boolean", {"value": True}))
        connections += [
            conn("switch", label, f"hit-{label}", "saveValue"),
            conn(f"hit-{label}", "savedValue", "resp", f"pm-{label}"),
            conn("switch", label, "resp", "send"),
        ]
    return nodes, connections


async def test_switch_fires_the_first_case_equal_to_the_value_strictly() -> None:
    nodes, connections = switch_graph({"cases": ["1", 1, "paid"]})

    number = await run_flow(nodes, connections, {"value": 1, "data": "x"})
    text = await run_flow(nodes, connections, {"value": "paid"})

    assert (fired(number), number.result["data"], number.result["index"]) == (["case_1"], "x", 1)
    assert (fired(text), text.result["index"]) == (["case_2"], 2)


async def test_switch_without_a_match_or_cases_fires_default() -> None:
    unmatched, _ = switch_graph({"cases": ["a", "b"]})
    empty_nodes, empty_connections = switch_graph({})

    answer = await run_flow(unmatched, _, {"value": "z"})
    empty = await run_flow(empty_nodes, empty_connections, {"value": "a"})

    assert (fired(answer), answer.result["index"]) == (["default"], -1)
    assert (fired(empty), empty.result["index"]) == (["default"], -1)


async def test_switch_expression_rules_and_all_matching_outputs() -> None:
    cases = '[{"expression": "value > 10"}, {"expression": "value % 2 === 0"}, 3]'
    nodes, connections = switch_graph({"cases": cases, "allMatching": True})

    both = await run_flow(nodes, connections, {"value": 12})
    first_only = await run_flow(*switch_graph({"cases": cases}), {"value": 12})

    assert fired(both) == ["case_0", "case_1"]
    assert fired(first_only) == ["case_0"]


async def test_a_failing_switch_rule_is_recorded_with_the_node_id(history: ExecutionHistory) -> None:
    nodes, connections = switch_graph({"cases": [{"expression": "value.nope.deeper"}]})

    _, stored = await run_recorded(history, nodes, connections, {"value": 1}, timeout_seconds=0.2)

    assert [node_id for node_id, _ in error_steps(stored)] == ["switch"]
    assert steps_of(stored, "switch")[0]["errorMessage"].startswith("Switch rule failed")
