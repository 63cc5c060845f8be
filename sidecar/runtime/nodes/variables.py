"""Number, String and Boolean variables (Noodl's variable base)."""

from __future__ import annotations

from typing import Any, ClassVar

from sidecar.runtime.node import Node
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.values import js_to_number, js_to_string, js_truthy, strict_equals


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class VariableNode(Node):
    """``value`` stores at once, or only on ``Set`` when ``Set`` is connected (then it is pending)."""

    CATEGORY = "Variables"
    START_VALUE: ClassVar[Any] = 0
    SAME_EVERY_RUN = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.current: Any = self.START_VALUE
        self.latest: Any = 0  # what Set stores when no value is pending: the cast of 0

    def _set_value(self, value: Any) -> None:
        if self.is_input_connected("saveValue"):
            self.latest = value
        else:
            self.set_value_to(value)

    def _on_save(self) -> None:
        def store() -> None:
            self.set_value_to(self.latest)
            self.send_signal("stored")

        self.schedule_after_inputs(store)

    def set_value_to(self, value: Any) -> None:
        value = self.cast(value)
        changed = not strict_equals(self.current, value)
        self.current = value
        if changed:
            self.flag_output_dirty("savedValue")
            self.send_signal("changed")
            self.on_changed()

    def cast(self, value: Any) -> Any:
        return js_to_number(value)

    def on_changed(self) -> None:
        """Hook for String's ``length``."""


def _variable_ports(type_name: str, default: Any) -> tuple[tuple[InputSpec, ...], tuple[OutputSpec, ...]]:
    inputs = (
        InputSpec("value", type_name, set=VariableNode._set_value, default=default, display_name="Value"),
        InputSpec("saveValue", "signal", on_signal=VariableNode._on_save, display_name="Set"),
    )
    outputs = (
        OutputSpec("savedValue", type_name, get=lambda n: n.current, display_name="Value"),
        OutputSpec("changed", "signal", display_name="Changed"),
        OutputSpec("stored", "signal", display_name="Stored"),
    )
    return inputs, outputs


class NumberNode(VariableNode):
    TYPE = "Number"
    START_VALUE = 0
    INPUTS, OUTPUTS = _variable_ports("number", 0)


class StringNode(VariableNode):
    TYPE = "String"
    START_VALUE = ""

    def cast(self, value: Any) -> Any:
        return js_to_string(value)

    INPUTS, _OUTPUTS = _variable_ports("string", "")
    OUTPUTS = (
        *_OUTPUTS,
        OutputSpec("length", "number", get=lambda n: utf16_length(n.current), display_name="Length"),
    )

    def on_changed(self) -> None:
        self.flag_output_dirty("length")


class BooleanNode(VariableNode):
    TYPE = "Boolean"
    START_VALUE = False

    def cast(self, value: Any) -> Any:
        return js_truthy(value)

    INPUTS, OUTPUTS = _variable_ports("boolean", False)
