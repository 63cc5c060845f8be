"""Workflow For Each: a child component per item, results in input order, per-item failures."""

from __future__ import annotations

from typing import Any

from sidecar.history import ExecutionHistory
from tests.runtime.graphs import conn, node
from tests.workflow.graphs import (
    child,
    error_steps,
    expression_child,
    function_child,
    run_flow,
    run_recorded,
    steps_of,
)

DOUBLE = expression_child("lib/double", "currentItem.n * 2")


def loop_graph(parameters: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Request.items → For Each; completed and failed both answer with the loop's outputs."""
    nodes = [node("loop", "Workflow For Each", {"template": "lib/double", **parameters})]
    connections = [
        conn("req", "pm-items", "loop", "items"),
        conn("req", "receive", "loop", "run"),
        conn("loop", "allResults", "resp", "pm-results"),
        conn("loop", "failedCount", "resp", "pm-failed"),
        conn("loop", "errors", "resp", "pm-errors"),
        conn("loop", "completed", "resp", "send"),
        conn("loop", "failed", "resp", "send"),
    ]
    return nodes, connections


async def test_each_item_runs_the_child_and_results_keep_input_order() -> None:
    items = [{"n": n} for n in (3, 1, 4, 1, 5)]

    sequential = await run_flow(*loop_graph({}), {"items": items}, extra_components=(DOUBLE,))
    parallel = await run_flow(*loop_graph({"concurrency": 3}), {"items": items}, extra_components=(DOUBLE,))

    for answer in (sequential, parallel):
        assert answer.result["results"] == [6, 2, 8, 2, 10]
        assert answer.result["failed"] == 0


async def test_children_with_uneven_durations_still_collect_results_in_input_order() -> None:
    # The child waits ``currentItem`` ms, then answers with it: later items end first.
    sleeper = child(
        "lib/double",
        [node("nap", "Workflow Wait", {"unit": "ms"})],
        [
            conn("in", "currentItem", "nap", "duration"),
            conn("in", "currentItem", "nap", "data"),
            conn("in", "Do", "nap", "run"),
            conn("nap", "data", "out", "result"),
            conn("nap", "done", "out", "Success"),
        ],
    )

    answer = await run_flow(
        *loop_graph({"concurrency": 3}), {"items": [30, 1, 10]}, extra_components=(sleeper,)
    )

    assert answer.result["results"] == [30, 1, 10]


async def test_an_empty_list_completes_at_once_with_no_results() -> None:
    answer = await run_flow(*loop_graph({}), {"items": []}, extra_components=(DOUBLE,))
    missing = await run_flow(*loop_graph({}), {}, extra_components=(DOUBLE,))

    assert answer.result == {"results": [], "failed": 0, "errors": []}
    assert missing.result["results"] == []


async def test_stop_policy_ends_the_loop_at_the_first_failed_item(history: ExecutionHistory) -> None:
    items = [{"n": 1}, {"n": 0}, {"n": 2}]

    answer, stored = await run_recorded(
        history, *loop_graph({}), {"items": items}, extra_components=(DOUBLE,)
    )

    assert answer.result["results"] == [2, None, None]  # item 2 never started
    assert answer.result["errors"] == [
        {"message": "Failure", "stack": "Failure", "nodeId": "out", "index": 1}
    ]
    assert error_steps(stored) == [("loop", "item 1: Failure")]


async def test_continue_policy_runs_every_item_and_reports_each_failure() -> None:
    items = [{"n": 0}, {"n": 1}, {"n": 0}]

    answer = await run_flow(
        *loop_graph({"onItemFailure": "continue", "concurrency": 2}),
        {"items": items},
        extra_components=(DOUBLE,),
    )

    assert answer.result["results"] == [None, 2, None]
    assert [e["index"] for e in answer.result["errors"]] == [0, 2]
    assert answer.result["failed"] == 2


async def test_a_node_throwing_inside_the_child_fails_that_item_with_its_node_id() -> None:
    thrower = function_child("lib/double", "throw new Error('bad item')")

    answer = await run_flow(
        *loop_graph({"onItemFailure": "continue"}), {"items": [1]}, extra_components=(thrower,)
    )

    [error] = answer.result["errors"]
    assert error["nodeId"] == "script"
    assert error["message"] == "bad item"
    assert error["stack"].startswith("Error: bad item")


async def test_every_item_is_its_own_step_with_a_run_index(history: ExecutionHistory) -> None:
    items = [{"n": 1}, {"n": 2}]

    _, stored = await run_recorded(history, *loop_graph({}), {"items": items}, extra_components=(DOUBLE,))

    loop_steps = steps_of(stored, "loop")
    assert [s["runIndex"] for s in loop_steps] == [0, 1, 2, 3]
    started, first, second, done = loop_steps
    assert started["inputData"]["run"] is True
    assert (first["inputData"], first["outputData"]) == (
        {"currentIndex": 0, "currentItem": {"n": 1}},
        {"result": 2},
    )
    assert second["inputData"]["currentIndex"] == 1
    assert done["outputData"]["completed"] is True
    assert done["outputData"]["allResults"] == [2, 4]
    # The child's own nodes are steps too, keyed by their canvas ids inside the template; the child
    # instance itself is no canvas node, so it is no step.
    assert {s["nodeId"] for s in stored["steps"]} == {"req", "loop", "calc", "out", "resp"}


async def test_an_unknown_template_is_an_error_step(history: ExecutionHistory) -> None:
    nodes, connections = loop_graph({"template": "/nowhere"})

    _, stored = await run_recorded(history, nodes, connections, {"items": [1]}, timeout_seconds=0.1)

    assert error_steps(stored) == [("loop", "For Each: unknown template '/nowhere'")]
