"""Workflow Wait, Wait Until and Debounce: timers on the run's event loop.

A wait is one ``asyncio.sleep`` task owned by the run: no thread, no CPU while parked, cancelled when
the run settles (its timeout included), so nothing fires into a finished run. Each ``run`` starts its
own wait (Node-RED's per-message delay); Debounce instead restarts its quiet period on every
``run`` and fires once. Waits live as long as the run: a wait longer than the function timeout
(30 s by default) ends with the timeout answer — durable, resumable waits are not built here. The
firing of a timer is recorded as its own step of the node. Wait Until reads ISO 8601 text (no
offset means UTC), epoch milliseconds, or a ``datetime``; a target in the past fires ``skipped``
at once, an unreadable one is a node error.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sidecar.runtime.node import Node
from sidecar.runtime.nodes.workflow.common import WorkflowNode, enum_type, number_or, run_as_step
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.values import UNDEFINED, js_to_string

UNIT_MS = {"ms": 1.0, "s": 1000.0, "min": 60_000.0, "h": 3_600_000.0}


def start_timer(node: Node, delay_ms: float, fire: Any) -> None:
    """Call ``fire()`` after ``delay_ms`` unless the run has settled by then."""
    node.ctx.spawn(asyncio.sleep(max(0.0, delay_ms) / 1000), lambda _result, _error: fire(), owner=node.id)


def wait_ms(duration: Any, unit: Any) -> float:
    return max(0.0, number_or(duration, 0.0)) * UNIT_MS.get(js_to_string(unit), 1.0)


def target_epoch_ms(value: Any) -> float | None:
    """A Wait Until target as epoch milliseconds; ``None`` when it is not a date."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000


def now_ms() -> float:
    return datetime.now(UTC).timestamp() * 1000


class WorkflowWaitNode(WorkflowNode):
    TYPE = "Workflow Wait"
    DISPLAY_NAME = "Workflow Wait"
    DOCS = "On Run, waits Duration (in Unit) and fires Done; Data passes through."

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.duration: Any = 1000
        self.unit: Any = "ms"
        self.data: Any = UNDEFINED

    def _set_duration(self, value: Any) -> None:
        self.duration = value

    def _set_unit(self, value: Any) -> None:
        self.unit = value

    def _set_data(self, value: Any) -> None:
        self.data = value

    def _on_run(self) -> None:
        self.schedule_after_inputs(self._start)

    def _start(self) -> None:
        delay = wait_ms(self.duration, self.unit)
        data = self.data
        start_timer(self, delay, lambda: run_as_step(self, {"waitedMs": delay}, lambda: self._done(data)))

    def _done(self, data: Any) -> None:
        self.data = data
        self.flag_output_dirty("data")
        self.send_signal("done")

    INPUTS = (
        InputSpec("duration", "number", set=_set_duration, default=1000, display_name="Duration"),
        InputSpec("unit", enum_type(*UNIT_MS), set=_set_unit, default="ms", display_name="Unit"),
        InputSpec("data", "*", set=_set_data, display_name="Data"),
        InputSpec("run", "signal", on_signal=_on_run, display_name="Run"),
    )
    OUTPUTS = (
        OutputSpec("done", "signal", display_name="Done", group="Events"),
        OutputSpec("data", "*", get=lambda n: n.data, display_name="Data"),
    )


class WorkflowWaitUntilNode(WorkflowNode):
    TYPE = "Workflow Wait Until"
    DISPLAY_NAME = "Workflow Wait Until"
    DOCS = "On Run, waits until Target Time and fires Done; a target in the past fires Skipped at once."

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.target: Any = UNDEFINED

    def _set_target(self, value: Any) -> None:
        self.target = value

    def _on_run(self) -> None:
        self.schedule_after_inputs(self._start)

    def _start(self) -> None:
        target = target_epoch_ms(self.target)
        if target is None:
            self.ctx.report_node_error(self, f"Wait Until: not a date: {js_to_string(self.target)}")
            return
        remaining = target - now_ms()
        if remaining <= 0:
            self.send_signal("skipped")
            return
        start_timer(self, remaining, lambda: run_as_step(self, {"targetTime": target}, self._done))

    def _done(self) -> None:
        self.send_signal("done")

    INPUTS = (
        InputSpec("targetTime", "*", set=_set_target, display_name="Target Time"),
        # OpenNoodl planned both names; either one sets the same target.
        InputSpec("targetDate", "*", set=_set_target, display_name="Target Date"),
        InputSpec("run", "signal", on_signal=_on_run, display_name="Run"),
    )
    OUTPUTS = (
        OutputSpec("done", "signal", display_name="Done", group="Events"),
        OutputSpec("skipped", "signal", display_name="Skipped", group="Events"),
    )


class WorkflowDebounceNode(WorkflowNode):
    TYPE = "Workflow Debounce"
    DISPLAY_NAME = "Workflow Debounce"
    DOCS = "Fires Trigger once Delay ms have passed since the last Run; each Run restarts the wait."

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.delay: Any = 500
        self.data: Any = UNDEFINED
        self._pending: Any = UNDEFINED
        self._generation = 0

    def _set_delay(self, value: Any) -> None:
        self.delay = value

    def _set_data(self, value: Any) -> None:
        self._pending = value

    def _on_run(self) -> None:
        self.schedule_after_inputs(self._restart)

    def _restart(self) -> None:
        # Earlier sleeps are left to expire: a generation check is cheaper than cancelling them.
        self._generation += 1
        generation = self._generation
        delay = max(0.0, number_or(self.delay, 500))
        start_timer(self, delay, lambda: self._expire(generation))

    def _expire(self, generation: int) -> None:
        if generation == self._generation:
            run_as_step(self, {"delay": self.delay}, self._fire)

    def _fire(self) -> None:
        self.data = self._pending
        self.flag_output_dirty("data")
        self.send_signal("trigger")

    INPUTS = (
        InputSpec("delay", "number", set=_set_delay, default=500, display_name="Delay (ms)"),
        InputSpec("data", "*", set=_set_data, display_name="Data"),
        InputSpec("run", "signal", on_signal=_on_run, display_name="Run"),
    )
    OUTPUTS = (
        OutputSpec("trigger", "signal", display_name="Trigger", group="Events"),
        OutputSpec("data", "*", get=lambda n: n.data, display_name="Data"),
    )
