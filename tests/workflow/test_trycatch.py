"""Workflow Try/Catch: a child component's success or failure, routed, with the failing node named."""

from __future__ import annotations

from typing import Any

from sidecar.history import ExecutionHistory
from tests.runtime.graphs import conn, node
from tests.workflow.graphs import child, error_steps, expression_child, function_child, run_flow, run_recorded


def guarded(template: str = "lib/guarded") -> tuple[list[Any], list[Any]]:
    """Request.data → Try/Catch; the answer says which way it went, with result and error."""
    nodes = [
        node("guard", "Workflow Try Catch", {"template": template}),
        node("ok", "String", {"value": "success"}),
        node("caught", "String", {"value": "catch"}),
        node("tried", "Counter"),
    ]
    connections = [
        conn("req", "pm-data", "guard", "data"),
        conn("req", "receive", "guard", "run"),
        conn("guard", "try", "tried", "increase"),
        conn("guard", "success", "ok", "saveValue"),
        conn("guard", "catch", "caught", "saveValue"),
        conn("ok", "savedValue", "resp", "pm-outcome"),
        conn("caught", "savedValue", "resp", "pm-outcome"),
        conn("tried", "currentCount", "resp", "pm-tried"),
        conn("guard", "result", "resp", "pm-result"),
        conn("guard", "error", "resp", "pm-error"),
        conn("guard", "finally", "resp", "send"),
    ]
    return nodes, connections


async def test_a_child_that_succeeds_fires_try_success_and_finally_with_its_result() -> None:
    answer = await run_flow(
        *guarded(), {"data": {"n": 2}}, extra_components=(expression_child("lib/guarded", "data.n * 2"),)
    )

    assert answer.result == {"outcome": "success", "tried": 1, "result": 4}


async def test_a_child_that_reports_failure_is_caught() -> None:
    answer = await run_flow(
        *guarded(), {"data": {"n": 0}}, extra_components=(expression_child("lib/guarded", "data.n * 2"),)
    )

    assert answer.result["outcome"] == "catch"
    assert answer.result["error"] == {"message": "Failure", "stack": "Failure", "nodeId": "out"}


async def test_a_throwing_node_inside_is_caught_and_stays_an_error_step_in_history(
    history: ExecutionHistory,
) -> None:
    thrower = function_child("lib/guarded", "throw new Error('boom')")

    answer, stored = await run_recorded(history, *guarded(), {"data": 1}, extra_components=(thrower,))

    assert answer.status == 200
    error = answer.result["error"]
    assert (answer.result["outcome"], error["nodeId"]) == ("catch", "script")
    # err.message, as in JavaScript; the stack keeps the whole text
    assert error["message"] == "boom"
    assert error["stack"].startswith("Error: boom\n")
    assert "at " in error["stack"]
    assert [node_id for node_id, _ in error_steps(stored)] == ["script"]
    assert stored["status"] == "success"  # caught: the run itself answered


async def test_a_workflow_stop_inside_is_caught_instead_of_ending_the_run() -> None:
    stopper = child(
        "lib/guarded",
        [node("stopper", "Workflow Stop", {"errorMessage": "Out of stock"})],
        [conn("in", "Do", "stopper", "run")],
    )

    answer = await run_flow(*guarded(), {"data": 1}, extra_components=(stopper,))

    assert answer.status == 200
    assert answer.result["error"] == {"message": "Out of stock", "stack": "Out of stock", "nodeId": "stopper"}


async def test_an_empty_or_unknown_template_is_an_error_step(history: ExecutionHistory) -> None:
    _, stored = await run_recorded(history, *guarded(""), timeout_seconds=0.1)

    assert error_steps(stored) == [("guard", "Try/Catch: unknown template ''")]


async def test_a_failure_the_child_leaves_unwired_is_caught_and_a_wired_one_is_not() -> None:
    def giving_up(wired: bool) -> dict[str, Any]:
        wires = [
            conn("in", "Do", "retry", "run"),
            conn("retry", "attempt", "retry", "attemptFailed"),  # the only attempt fails
            conn("retry", "attemptNumber", "out", "result"),
        ]
        if wired:
            wires.append(conn("retry", "failure", "out", "Success"))  # the child handles it itself
        return child("lib/guarded", [node("retry", "Workflow Retry", {"maxAttempts": 1})], wires)

    unwired = await run_flow(*guarded(), {"data": 1}, extra_components=(giving_up(False),))
    wired = await run_flow(*guarded(), {"data": 1}, extra_components=(giving_up(True),))

    assert unwired.result["outcome"] == "catch"
    assert unwired.result["error"]["nodeId"] == "retry"
    assert (wired.result["outcome"], wired.result["result"]) == ("success", 1)


async def test_a_caught_throw_of_a_custom_error_or_a_plain_value_hands_on_its_own_message() -> None:
    for script, message in (
        (
            "class Oops extends Error { constructor() { super('no stock'); this.name = 'Oops'; } }\n"
            "throw new Oops();",
            "no stock",
        ),
        ("await Promise.resolve(); throw new TypeError('late');", "late"),
        ("throw 'just text';", "just text"),
    ):
        thrower = function_child("lib/guarded", script)
        answer = await run_flow(*guarded(), {"data": 1}, extra_components=(thrower,))
        assert answer.result["error"]["message"] == message, script
