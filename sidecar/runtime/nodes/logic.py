"""Logic nodes: Condition, And, Or, Inverter."""

from __future__ import annotations

from typing import Any

from sidecar.runtime.node import Node
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.values import UNDEFINED, js_truthy, strict_equals

_NUMBERED_INPUT = "input "


def _numbered_index(name: str) -> int | None:
    suffix = name[len(_NUMBERED_INPUT) :] if name.startswith(_NUMBERED_INPUT) else ""
    return int(suffix) if suffix.isdigit() else None


class ConditionNode(Node):
    TYPE = "Condition"
    CATEGORY = "Logic"
    SAME_EVERY_RUN = True

    def _set_condition(self, value: Any) -> None:
        if not self.is_input_connected("eval"):
            self._schedule_evaluate()

    def _on_eval(self) -> None:
        self._schedule_evaluate()

    def _schedule_evaluate(self) -> None:
        self.schedule_after_inputs(self._evaluate)

    def _evaluate(self) -> None:
        self.flag_output_dirty("result")
        self.flag_output_dirty("isfalse")
        self.send_signal("ontrue" if js_truthy(self.input_value("condition")) else "onfalse")

    INPUTS = (
        InputSpec("condition", "boolean", set=_set_condition, display_name="Condition", group="General"),
        InputSpec("eval", "signal", on_signal=_on_eval, display_name="Evaluate", group="Actions"),
    )
    OUTPUTS = (
        OutputSpec("ontrue", "signal", display_name="On True", group="Events"),
        OutputSpec("onfalse", "signal", display_name="On False", group="Events"),
        OutputSpec(
            "result",
            "boolean",
            get=lambda n: js_truthy(n.input_value("condition")),
            display_name="Is True",
            group="Booleans",
        ),
        OutputSpec(
            "isfalse",
            "boolean",
            get=lambda n: not js_truthy(n.input_value("condition")),
            display_name="Is False",
            group="Booleans",
        ),
    )


class AndNode(Node):
    """True when every input that was set is truthy; ``undefined`` until an input arrives."""

    TYPE = "And"
    CATEGORY = "Logic"
    SAME_EVERY_RUN = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.inputs: dict[int, bool] = {}
        self.result: Any = UNDEFINED

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        index = _numbered_index(name)
        if index is None:
            return None

        def store(node: Node, value: Any) -> None:
            value = js_truthy(value)
            if self.inputs.get(index) is value:
                return
            self.inputs[index] = value
            result = bool(self.inputs) and all(self.inputs.values())
            if self.result is not result:
                self.result = result
                self.flag_output_dirty("result")

        return InputSpec(name, "boolean", set=store, display_name=f"Input {index}")

    OUTPUTS = (OutputSpec("result", "boolean", get=lambda n: n.result, display_name="Result"),)


class OrNode(Node):
    TYPE = "Or"
    CATEGORY = "Logic"
    SAME_EVERY_RUN = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.inputs: dict[int, Any] = {}

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        index = _numbered_index(name)
        if index is None:
            return None

        def store(node: Node, value: Any) -> None:
            if index in self.inputs and strict_equals(self.inputs[index], value):
                return
            self.inputs[index] = value
            self.flag_output_dirty("result")

        return InputSpec(name, "boolean", set=store, display_name=f"Input {index}")

    OUTPUTS = (
        OutputSpec(
            "result",
            "boolean",
            get=lambda n: any(js_truthy(v) for v in n.inputs.values()),
            display_name="Result",
        ),
    )


class InverterNode(Node):
    TYPE = "Inverter"
    CATEGORY = "Logic"
    SAME_EVERY_RUN = True

    def _set_value(self, value: Any) -> None:
        self.flag_output_dirty("result")

    @staticmethod
    def _invert(node: Node) -> Any:
        value = node.input_values.get("value", UNDEFINED)
        return UNDEFINED if value is UNDEFINED else not js_truthy(value)

    INPUTS = (InputSpec("value", "boolean", set=_set_value, display_name="Value"),)
    OUTPUTS = (OutputSpec("result", "boolean", get=_invert, display_name="Result"),)
