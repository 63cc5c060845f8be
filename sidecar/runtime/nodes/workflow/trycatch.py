"""Workflow Try/Catch: run a child component and route its success or failure.

Choices: the guarded work is a child component (see ``children.py``), the closest thing Noodl has
to a scope, like Node-RED's catch scoped to a group and n8n's error output. ``try`` fires as the
child starts; then ``success`` (child sent ``Success``; ``result`` holds its result) or ``catch``
(child sent ``Failure``, or one of its nodes threw — a Workflow Stop included), and ``finally``
after either. ``error`` is ``{message, stack, nodeId}``; ``nodeId`` is the canvas id of the failing
node inside the template. The failing node's own step stays an error step in the history, so a
caught error is still visible there. ``data`` is handed to the child's ``data`` input.
"""

from __future__ import annotations

from typing import Any

from sidecar.runtime.nodes.workflow.children import ChildOutcome, resolve_template, start_child
from sidecar.runtime.nodes.workflow.common import WorkflowNode, run_as_step
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.values import UNDEFINED, js_to_string


class WorkflowTryCatchNode(WorkflowNode):
    TYPE = "Workflow Try Catch"
    DISPLAY_NAME = "Workflow Try/Catch"
    DOCS = "On Run, runs Template; fires Success or Catch (with Error), then Finally."

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.template: Any = UNDEFINED
        self.data: Any = UNDEFINED
        self.result: Any = UNDEFINED
        self.error: Any = UNDEFINED

    def _set_template(self, value: Any) -> None:
        self.template = value

    def _set_data(self, value: Any) -> None:
        self.data = value

    def _on_run(self) -> None:
        self.schedule_after_inputs(self._start)

    def _start(self) -> None:
        component = resolve_template(self, self.template)
        if component is None:
            self.ctx.report_node_error(self, f"Try/Catch: unknown template {js_to_string(self.template)!r}")
            return
        self.send_signal("try")
        inputs = {} if self.data is UNDEFINED else {"data": self.data}
        self.ctx.at_frame_end(lambda: self._start_child(component, inputs))

    def _start_child(self, component: Any, inputs: dict[str, Any]) -> None:
        if not self.deleted:
            start_child(self, component, inputs, self._ended)

    def _ended(self, outcome: ChildOutcome) -> None:
        run_as_step(self, {"ok": outcome.ok}, lambda: self._route(outcome))

    def _route(self, outcome: ChildOutcome) -> None:
        if outcome.ok:
            self.result, self.error = outcome.result, UNDEFINED
            self.flag_output_dirty("result")
            self.send_signal("success")
        else:
            self.error = outcome.error
            self.flag_output_dirty("error")
            self.send_signal("catch")
        self.send_signal("finally")

    INPUTS = (
        InputSpec("template", "component", set=_set_template, display_name="Template"),
        InputSpec("data", "*", set=_set_data, display_name="Data"),
        InputSpec("run", "signal", on_signal=_on_run, display_name="Run"),
    )
    OUTPUTS = (
        OutputSpec("try", "signal", display_name="Try", group="Events"),
        OutputSpec("success", "signal", display_name="Success", group="Events"),
        OutputSpec("catch", "signal", display_name="Catch", group="Events"),
        OutputSpec("finally", "signal", display_name="Finally", group="Events"),
        OutputSpec("result", "*", get=lambda n: n.result, display_name="Result"),
        OutputSpec("error", "object", get=lambda n: n.error, display_name="Error"),
    )
