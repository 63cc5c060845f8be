"""What the execution history keeps of script nodes: a Function that awaits is one step from its start
to its script's end, with the outputs it set after the await and its console lines."""

from __future__ import annotations

from typing import Any

from sidecar.history import ExecutionHistory
from sidecar.runtime.context import CONSOLE_KEY
from tests.runtime.graphs import conn, function_node
from tests.workflow.graphs import run_recorded, steps_of


def function_flow(script: str) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    nodes = [function_node(script, outputs=("out",))]
    connections = [
        conn("req", "receive", "fn", "run"),
        conn("fn", "out-out", "resp", "pm-out"),
        conn("fn", "out-Done", "resp", "send"),
    ]
    return nodes, connections


async def test_a_function_awaiting_a_timer_is_one_step_of_its_whole_duration_with_its_outputs(
    history: ExecutionHistory,
) -> None:
    script = (
        "console.log('before');\n"
        "await new Promise(r => setTimeout(r, 50));\n"
        "console.warn('after');\n"
        "Outputs.out = 'late'; Outputs.Done();\n"
    )
    answer, stored = await run_recorded(history, *function_flow(script))

    assert answer.result == {"out": "late"}
    [step] = steps_of(stored, "fn")
    assert step["status"] == "success"
    assert 45 <= step["durationMs"] < 1000
    output = step["outputData"]
    assert output["out-out"] == "late"
    assert output["out-Done"] is True
    assert [(line["level"], line["text"]) for line in output[CONSOLE_KEY]] == [
        ("info", "before"),
        ("warn", "after"),
    ]


async def test_a_function_still_awaiting_when_the_run_ends_is_recorded_as_unfinished(
    history: ExecutionHistory,
) -> None:
    script = "Outputs.out = 'early'; Outputs.Done(); await new Promise(() => {});"
    answer, stored = await run_recorded(history, *function_flow(script))

    assert answer.result == {"out": "early"}
    [step] = steps_of(stored, "fn")
    assert step["status"] == "error"
    assert "ended before the node finished" in step["errorMessage"]
