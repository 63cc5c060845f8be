"""Workflow Split, Merge and Stop: fan a signal out, join branches, end the run.

Choices: Split fires ``branch_0 … branch_<n-1>`` in index order in one update, so the branches start
in the same frame and their order is deterministic (Node-RED wires fire in no documented order).
Merge follows n8n's "wait for all connected inputs" by default; ``mode`` ``first`` fires on the
first arrival and swallows the rest of that round (Windmill's branch-one). A round ends when every
branch has arrived, or on ``reset``; the node then starts afresh, so a Merge inside a loop body joins
each pass separately. ``data`` is ``{"<i>": data_i}`` for the branches that arrived, keyed by
branch index as OpenNoodl planned. Stop ends the run as failed with ``errorMessage`` (the run's
answer is the rejection ``{"error": message}``; the step is an error step with the node id); with
``isError`` off it ends the run successfully with ``{"stopped": message}``. Inside a Try/Catch
child the stop is caught like any other error.
"""

from __future__ import annotations

import functools
from typing import Any

from sidecar.runtime.context import FunctionResponse
from sidecar.runtime.nodes.workflow.common import WorkflowNode, enum_type, number_or, numbered_port
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.values import UNDEFINED, js_stringify, js_to_string, js_truthy

BRANCH_PREFIX = "branch_"
DATA_PREFIX = "data_"
DEFAULT_STOP_MESSAGE = "Workflow stopped"


def _branch_count(value: Any) -> int:
    return max(1, int(number_or(value, 2)))


@functools.cache
def _branch_output(name: str) -> OutputSpec:
    return OutputSpec(name, "signal", display_name=name.replace("_", " ").title(), group="Branches")


class WorkflowSplitNode(WorkflowNode):
    TYPE = "Workflow Split"
    DISPLAY_NAME = "Workflow Split"
    DOCS = "On Run, fires branch_0 … branch_<n-1> in order, all in the same frame."
    DYNAMIC_PORTS = (("branch_<n>", "output", "signal", "branchCount"),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.branch_count = 2
        self.data: Any = UNDEFINED

    def make_dynamic_output(self, name: str) -> OutputSpec | None:
        return _branch_output(name) if numbered_port(name, BRANCH_PREFIX) is not None else None

    def _set_count(self, value: Any) -> None:
        self.branch_count = _branch_count(value)

    def _set_data(self, value: Any) -> None:
        self.data = value

    def _on_run(self) -> None:
        self.schedule_after_inputs(self._fan_out)

    def _fan_out(self) -> None:
        self.flag_output_dirty("data")
        for index in range(self.branch_count):
            self.send_signal(f"{BRANCH_PREFIX}{index}")

    INPUTS = (
        InputSpec("branchCount", "number", set=_set_count, default=2, display_name="Branches", priority=1),
        InputSpec("data", "*", set=_set_data, display_name="Data"),
        InputSpec("run", "signal", on_signal=_on_run, display_name="Run"),
    )
    OUTPUTS = (OutputSpec("data", "*", get=lambda n: n.data, display_name="Data"),)


class WorkflowMergeNode(WorkflowNode):
    TYPE = "Workflow Merge"
    DISPLAY_NAME = "Workflow Merge"
    DOCS = "Fires Merged once every branch_<i> arrived (mode all) or on the first (mode first), then resets."
    DYNAMIC_PORTS = (
        ("branch_<i>", "input", "signal", "branchCount"),
        ("data_<i>", "input", "*", "branchCount"),
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.branch_count = 2
        self.first_only = False
        self.branch_data: dict[int, Any] = {}
        self.arrived: set[int] = set()
        self.fired = False
        self.merged: dict[str, Any] = {}

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        branch = numbered_port(name, BRANCH_PREFIX)
        if branch is not None:
            return InputSpec(name, "signal", on_signal=lambda n: n._arrive(branch), group="Branches")
        data = numbered_port(name, DATA_PREFIX)
        if data is not None:
            return InputSpec(name, "*", set=lambda n, v: n.branch_data.__setitem__(data, v), group="Data")
        return None

    def _set_count(self, value: Any) -> None:
        self.branch_count = _branch_count(value)

    def _set_mode(self, value: Any) -> None:
        self.first_only = js_to_string(value) == "first"

    def _on_reset(self) -> None:
        self.arrived.clear()
        self.fired = False

    def _arrive(self, branch: int) -> None:
        if branch < self.branch_count:
            self.arrived.add(branch)
            # Decide after the frame's inputs are applied, so data_i sent with branch_i is current.
            self.schedule_after_inputs(self._check)

    def _check(self) -> None:
        complete = len(self.arrived) >= self.branch_count
        if not self.fired and (complete or (self.first_only and self.arrived)):
            self.fired = True
            self.merged = {str(i): self.branch_data.get(i) for i in sorted(self.arrived)}
            self.flag_output_dirty("data")
            self.send_signal("merged")
        if complete:
            self._on_reset()

    INPUTS = (
        InputSpec("branchCount", "number", set=_set_count, default=2, display_name="Branches", priority=1),
        InputSpec("mode", enum_type("all", "first"), set=_set_mode, default="all", display_name="Wait For"),
        InputSpec("reset", "signal", on_signal=_on_reset, display_name="Reset"),
    )
    OUTPUTS = (
        OutputSpec("merged", "signal", display_name="Merged", group="Events"),
        OutputSpec("data", "object", get=lambda n: n.merged, display_name="Data"),
    )


class WorkflowStopNode(WorkflowNode):
    TYPE = "Workflow Stop"
    DISPLAY_NAME = "Workflow Stop"
    DOCS = "On Run, ends the run: failed with Error Message, or successfully when Is Error is off."

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.message = DEFAULT_STOP_MESSAGE
        self.is_error = True

    def _set_message(self, value: Any) -> None:
        self.message = js_to_string(value) if value is not None else DEFAULT_STOP_MESSAGE

    def _set_is_error(self, value: Any) -> None:
        self.is_error = js_truthy(value)

    def _on_run(self) -> None:
        self.schedule_after_inputs(self._stop)

    def _stop(self) -> None:
        if not self.is_error:
            body = js_stringify({"stopped": self.message}) or "{}"
            self.ctx.settle(FunctionResponse(200, body))
        elif not self.ctx.report_node_error(self, self.message):
            self.ctx.reject(self.message)

    INPUTS = (
        InputSpec(
            "errorMessage",
            "string",
            set=_set_message,
            default=DEFAULT_STOP_MESSAGE,
            display_name="Error Message",
        ),
        InputSpec("isError", "boolean", set=_set_is_error, default=True, display_name="Is Error"),
        InputSpec("run", "signal", on_signal=_on_run, display_name="Run"),
    )
