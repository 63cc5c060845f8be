"""Workflow Split, Merge and Stop: parallel branches joined by index, and ending a run on purpose."""

from __future__ import annotations

from typing import Any

from sidecar.history import ExecutionHistory
from tests.runtime.graphs import conn, node
from tests.workflow.graphs import error_steps, run_flow, run_recorded


def split_merge_graph(merge_parameters: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Split fans out to a slow branch 0 (Wait 30 ms) and a fast branch 1; Merge joins them."""
    nodes = [
        node("split", "Workflow Split", {"branchCount": 2}),
        node("slow", "Workflow Wait", {"duration": 30}),
        node("merge", "Workflow Merge", {"branchCount": 2, **merge_parameters}),
    ]
    connections = [
        conn("req", "receive", "split", "run"),
        conn("split", "branch_0", "slow", "run"),
        conn("slow", "done", "merge", "branch_0"),
        conn("req", "pm-a", "merge", "data_0"),
        conn("split", "branch_1", "merge", "branch_1"),
        conn("req", "pm-b", "merge", "data_1"),
        conn("merge", "data", "resp", "pm-merged"),
        conn("merge", "merged", "resp", "send"),
    ]
    return nodes, connections


async def test_merge_waits_for_every_parallel_branch_and_keys_data_by_branch_index() -> None:
    answer = await run_flow(*split_merge_graph({}), {"a": {"slow": True}, "b": [1, 2]})

    assert answer.result == {"merged": {"0": {"slow": True}, "1": [1, 2]}}


async def test_merge_in_first_mode_fires_on_the_first_branch_to_arrive() -> None:
    answer = await run_flow(*split_merge_graph({"mode": "first"}), {"a": "A", "b": "B"})

    assert answer.result == {"merged": {"1": "B"}}


async def test_merge_resets_after_each_round_and_split_fires_branches_in_order() -> None:
    nodes = [
        node("split", "Workflow Split", {"branchCount": 4}),
        node("merge", "Workflow Merge", {}),
        node("rounds", "Counter"),
        node("later", "Workflow Wait", {"duration": 10}),
    ]
    connections = [
        conn("req", "receive", "split", "run"),
        conn("split", "branch_0", "merge", "branch_0"),
        conn("split", "branch_1", "merge", "branch_1"),
        conn("split", "branch_2", "merge", "branch_0"),
        conn("split", "branch_3", "merge", "branch_1"),
        conn("merge", "merged", "rounds", "increase"),
        conn("req", "receive", "later", "run"),
        conn("rounds", "currentCount", "resp", "pm-rounds"),
        conn("later", "done", "resp", "send"),
    ]

    answer = await run_flow(nodes, connections)

    assert answer.result == {"rounds": 2}


async def test_merge_never_fires_while_a_branch_is_missing() -> None:
    nodes = [
        node("merge", "Workflow Merge", {"branchCount": 3}),
        node("later", "Workflow Wait", {"duration": 10}),
    ]
    connections = [
        conn("req", "receive", "merge", "branch_0"),
        conn("req", "receive", "merge", "branch_2"),
        conn("merge", "merged", "resp", "send"),
        conn("later", "done", "resp", "send"),
        conn("req", "receive", "later", "run"),
        conn("merge", "data", "resp", "pm-merged"),
    ]

    answer = await run_flow(nodes, connections)

    assert answer.result == {"merged": {}}  # answered by the Wait; Merge still waits for branch 1


async def test_stop_fails_the_run_with_its_message_and_records_an_error_step(
    history: ExecutionHistory,
) -> None:
    nodes = [node("stop", "Workflow Stop", {"errorMessage": "Out of stock"})]
    connections = [conn("req", "receive", "stop", "run")]

    answer, stored = await run_recorded(history, nodes, connections)

    assert (answer.status, answer.body) == (500, {"error": "Out of stock"})
    assert error_steps(stored) == [("stop", "Out of stock")]
    assert stored["status"] == "error"


async def test_stop_with_default_message_and_stop_without_error() -> None:
    failing = await run_flow([node("stop", "Workflow Stop")], [conn("req", "receive", "stop", "run")])
    quiet = await run_flow(
        [node("stop", "Workflow Stop", {"isError": False, "errorMessage": "nothing to do"})],
        [conn("req", "receive", "stop", "run")],
    )

    assert (failing.status, failing.body) == (500, {"error": "Workflow stopped"})
    assert (quiet.status, quiet.body) == (200, {"stopped": "nothing to do"})
