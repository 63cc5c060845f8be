"""Run Tasks follows JavaScript truthiness where Noodl's node does.

An empty ``items`` array is a value (``[]`` is truthy): the node runs, has nothing to do, and fires
Success (never Done, as the real runner). A falsy item stops the start of tasks where it stands.
"""

from __future__ import annotations

import json
from typing import Any

from tests.runtime.graphs import component, conn, node, response_node, run_graph

TASK_PORTS = [
    {"name": "Do", "plug": "output", "type": "signal"},
    {"name": "Success", "plug": "input", "type": "signal"},
    {"name": "Failure", "plug": "input", "type": "signal"},
]
# A task that succeeds as soon as it is asked to run.
SUCCEEDS = component(
    "Succeeds",
    [node("ci", "Component Inputs"), node("co", "Component Outputs")],
    [conn("ci", "Do", "co", "Success")],
    ports=[{**port, "plug": "input" if port["plug"] == "output" else "output"} for port in TASK_PORTS],
)


def tasks_graph(answer_on: str) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Items from the request; the Response answers ``{"outcome": answer_on}`` on that signal."""
    nodes = [
        node("tasks", "RunTasks", {"taskTemplate": "/#__cloud__/Succeeds"}),
        response_node(**{"pm-outcome": answer_on}),
    ]
    connections = [
        conn("req", "pm-items", "tasks", "items"),
        conn("req", "receive", "tasks", "run"),
        conn("tasks", answer_on, "resp", "send"),
    ]
    return nodes, connections


async def test_an_empty_items_array_completes_with_success() -> None:
    status, body = await run_graph(*tasks_graph("success"), {"items": []}, extra_components=(SUCCEEDS,))
    assert (status, json.loads(body)) == (200, {"result": {"outcome": "success"}})


async def test_every_truthy_item_runs_and_the_tasks_finish_with_done() -> None:
    items = {"items": [1, "two", {"n": 3}]}
    status, body = await run_graph(*tasks_graph("done"), items, extra_components=(SUCCEEDS,))
    assert (status, json.loads(body)) == (200, {"result": {"outcome": "done"}})


async def test_a_falsy_item_stops_the_start_of_tasks_so_they_never_finish() -> None:
    status, body = await run_graph(
        *tasks_graph("done"), {"items": [0, 1]}, extra_components=(SUCCEEDS,), timeout_seconds=0.3
    )
    assert status == 504
    assert json.loads(body)["code"] == "function/timeout"
