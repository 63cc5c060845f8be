"""Workflow IF and Workflow Switch: route a signal by a condition or a value.

Choices: both nodes act on the ``run`` signal only, after
every input that arrived in the same frame is applied, so data wired next to the signal is never
stale. IF takes either a ``condition`` value or, when ``expression`` is set, a JavaScript expression
over named inputs (every identifier in it becomes an input; ``data`` is one of them) — one node
instead of Expression + Condition. Switch follows n8n's Switch v3: an ordered case list where a
plain value matches by strict equality and ``{"expression": "..."}`` is a rule over ``value`` and
``data``; the first match fires unless ``allMatching`` is on (Node-RED's "check all rules"); no
match fires ``default`` (n8n's "fallback output"). A failing expression is a node error (recorded,
caught by an enclosing Try/Catch) and fires no branch.
"""

from __future__ import annotations

import functools
from typing import Any

import structlog

from sidecar.errors import ScriptError
from sidecar.runtime.nodes.code import expression_identifiers
from sidecar.runtime.nodes.workflow.common import WorkflowNode, numbered_port
from sidecar.runtime.nodes.workflow.expressions import evaluate
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.values import UNDEFINED, js_to_string, js_truthy, strict_equals

log = structlog.get_logger()

CASE_PREFIX = "case_"


def _store(name: str) -> Any:
    def setter(node: Any, value: Any) -> None:
        node.values[name] = value

    return setter


@functools.cache
def _named_input(name: str) -> InputSpec:
    return InputSpec(name, "*", set=_store(name))


class WorkflowIfNode(WorkflowNode):
    TYPE = "Workflow IF"
    DISPLAY_NAME = "Workflow IF"
    DOCS = "On Run, fires On True or On False from Condition, or from Expression when one is set."

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.values: dict[str, Any] = {}
        self.expression = ""
        self.result: Any = UNDEFINED
        self._scheduled = False

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        return _named_input(name)

    def _set_expression(self, value: Any) -> None:
        self.expression = js_to_string(value).strip() if value is not None else ""
        for name in expression_identifiers(self.expression):
            self.get_input(name)  # named inputs exist as soon as the expression names them

    def _on_run(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.schedule_after_inputs(self._decide)

    def _decide(self) -> None:
        self._scheduled = False
        if self.expression:
            try:
                outcome = evaluate(self, self.expression, self.values)
            except ScriptError as error:
                self.ctx.report_node_error(self, f"IF expression failed: {error.message}")
                return
        else:
            outcome = self.values.get("condition", False)
        self.result = js_truthy(outcome)
        self.flag_output_dirty("result")
        self.flag_output_dirty("data")
        self.send_signal("onTrue" if self.result else "onFalse")

    INPUTS = (
        InputSpec("condition", "boolean", set=_store("condition"), default=False, display_name="Condition"),
        InputSpec("expression", "string", set=_set_expression, priority=1, display_name="Expression"),
        InputSpec("data", "*", set=_store("data"), display_name="Data"),
        InputSpec("run", "signal", on_signal=_on_run, display_name="Run"),
    )
    OUTPUTS = (
        OutputSpec("onTrue", "signal", display_name="On True", group="Events"),
        OutputSpec("onFalse", "signal", display_name="On False", group="Events"),
        OutputSpec("result", "boolean", get=lambda n: n.result, display_name="Result"),
        OutputSpec("data", "*", get=lambda n: n.values.get("data", UNDEFINED), display_name="Data"),
    )


@functools.cache
def _case_output(name: str) -> OutputSpec:
    return OutputSpec(name, "signal", display_name=name.replace("_", " ").title(), group="Cases")


class WorkflowSwitchNode(WorkflowNode):
    TYPE = "Workflow Switch"
    DISPLAY_NAME = "Workflow Switch"
    DOCS = (
        "On Run, fires case_<n> for the first case matching Value (strict equality, or a "
        '{"expression": "..."} rule over value and data), every match with All Matching, else Default.'
    )
    DYNAMIC_PORTS = (("case_<n>", "output", "signal", "cases"),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.values: dict[str, Any] = {}
        self.cases: list[Any] = []
        self.all_matching = False
        self.matched: list[int] = []
        self._scheduled = False

    def make_dynamic_output(self, name: str) -> OutputSpec | None:
        return _case_output(name) if numbered_port(name, CASE_PREFIX) is not None else None

    def _set_cases(self, value: Any) -> None:
        self.cases = list(value) if isinstance(value, list) else []
        for index in range(len(self.cases)):
            self.get_output(f"{CASE_PREFIX}{index}")

    def _set_all(self, value: Any) -> None:
        self.all_matching = js_truthy(value)

    def _on_run(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.schedule_after_inputs(self._route)

    def _matches(self, case: Any) -> bool:
        if isinstance(case, dict) and isinstance(case.get("expression"), str):
            return js_truthy(evaluate(self, case["expression"], self.values))
        return strict_equals(case, self.values.get("value", UNDEFINED))

    def _route(self) -> None:
        self._scheduled = False
        matched: list[int] = []
        try:
            for index, case in enumerate(self.cases):
                if self._matches(case):
                    matched.append(index)
                    if not self.all_matching:
                        break
        except ScriptError as error:
            self.ctx.report_node_error(self, f"Switch rule failed: {error.message}")
            return
        self.matched = matched
        self.flag_output_dirty("matchedIndex")
        self.flag_output_dirty("data")
        for index in matched:
            self.send_signal(f"{CASE_PREFIX}{index}")
        if not matched:
            self.send_signal("default")

    INPUTS = (
        InputSpec("value", "*", set=_store("value"), display_name="Value"),
        InputSpec("data", "*", set=_store("data"), display_name="Data"),
        InputSpec("cases", "array", set=_set_cases, default=[], display_name="Cases", priority=1),
        InputSpec("allMatching", "boolean", set=_set_all, default=False, display_name="All Matching"),
        InputSpec("run", "signal", on_signal=_on_run, display_name="Run"),
    )
    OUTPUTS = (
        OutputSpec("default", "signal", display_name="Default", group="Cases"),
        OutputSpec(
            "matchedIndex",
            "number",
            get=lambda n: n.matched[0] if n.matched else -1,
            display_name="Matched Index",
        ),
        OutputSpec("data", "*", get=lambda n: n.values.get("data", UNDEFINED), display_name="Data"),
    )
