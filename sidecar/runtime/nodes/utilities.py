"""Counter and Unique Id."""

from __future__ import annotations

from typing import Any

from sidecar.runtime.node import Node
from sidecar.runtime.objects import new_object_id
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.values import js_to_number, js_truthy


class CounterNode(Node):
    TYPE = "Counter"
    CATEGORY = "Math"
    SAME_EVERY_RUN = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.current: int | float = 0
        self.start: int | float = 0
        self.start_set = False
        self.limits_enabled = False
        self.limits_min: int | float = 0
        self.limits_max: int | float = 0

    def _changed(self) -> None:
        self.flag_output_dirty("currentCount")
        self.send_signal("countChanged")

    def _on_increase(self) -> None:
        if self.limits_enabled and self.current >= self.limits_max:
            return
        self.current += 1
        self._changed()

    def _on_decrease(self) -> None:
        if self.limits_enabled and self.current <= self.limits_min:
            return
        self.current -= 1
        self._changed()

    def _on_reset(self) -> None:
        self.current = self.start  # always resets and always reports
        self._changed()

    def _set_start(self, value: Any) -> None:
        self.start = js_to_number(value)
        if not self.start_set:
            self.start_set = True
            self.current = self.start
            self._changed()

    def _set_min(self, value: Any) -> None:
        self.limits_min = js_to_number(value)

    def _set_max(self, value: Any) -> None:
        self.limits_max = js_to_number(value)

    def _set_enabled(self, value: Any) -> None:
        self.limits_enabled = js_truthy(value)

    INPUTS = (
        InputSpec(
            "increase", "signal", on_signal=_on_increase, display_name="Increase Count", group="Actions"
        ),
        InputSpec(
            "decrease", "signal", on_signal=_on_decrease, display_name="Decrease Count", group="Actions"
        ),
        InputSpec("reset", "signal", on_signal=_on_reset, display_name="Reset To Start", group="Actions"),
        InputSpec("startValue", "number", set=_set_start, default=0, display_name="Start Value"),
        InputSpec("limitsMin", "number", set=_set_min, default=0, display_name="Min Value", group="Limits"),
        InputSpec("limitsMax", "number", set=_set_max, default=0, display_name="Max Value", group="Limits"),
        InputSpec(
            "limitsEnabled",
            "boolean",
            set=_set_enabled,
            default=False,
            display_name="Limits Enabled",
            group="Limits",
        ),
    )
    OUTPUTS = (
        OutputSpec("currentCount", "number", get=lambda n: n.current, display_name="Current Count"),
        OutputSpec("countChanged", "signal", display_name="Count Changed"),
    )


class UniqueIdNode(Node):
    TYPE = "Unique Id"
    CATEGORY = "String Manipulation"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.guid = new_object_id()

    def _on_new(self) -> None:
        self.guid = new_object_id()
        self.flag_output_dirty("guid")

    INPUTS = (InputSpec("new", "signal", on_signal=_on_new, display_name="New"),)
    OUTPUTS = (OutputSpec("guid", "string", get=lambda n: n.guid, display_name="Id"),)
