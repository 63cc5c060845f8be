"""Workflow For Each: a child component per item, in order or a bounded number at a time.

Choices: like Run Tasks (one template instance per item; see ``children.py`` for its ports), but
each child receives ``currentItem`` and ``currentIndex``, and its ``result`` is collected into
``allResults`` in input order whatever order the children end in (n8n's Loop Over Items keeps
order; Windmill's parallel for-loop too). ``concurrency`` 1 (the default) runs items one after
another; more runs up to that many children at once. ``completed`` fires for an empty list as well
(Run Tasks does not: quirk #14). An item fails when its child sends ``Failure`` or one of its nodes
throws; each failure is an error step of this node with the item's index (passed on to an
enclosing Try/Catch only when the stop policy ends the loop and ``failed`` is unwired), listed in
``errors`` as ``{index, message, stack, nodeId}``. ``onItemFailure`` ``stop`` (default) starts no
further item and fires ``failed`` once the running ones ended; ``continue`` (Windmill's "skip
failures") leaves ``null`` in ``allResults`` and fires ``completed`` at the end. ``iteration``
fires as each item starts, with ``currentItem``/``currentIndex`` set. Each item is recorded as its
own step of this node (``run_index`` 1…n after the step that started the loop).
"""

from __future__ import annotations

import enum
from typing import Any

import structlog

from sidecar.runtime.nodes.workflow.children import ChildOutcome, resolve_template, start_child
from sidecar.runtime.nodes.workflow.common import (
    WorkflowNode,
    enum_type,
    number_or,
    record_failure,
    run_as_step,
)
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.values import UNDEFINED, js_to_string

log = structlog.get_logger()


class LoopState(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    STOPPING = "stopping"


class WorkflowForEachNode(WorkflowNode):
    TYPE = "Workflow For Each"
    DISPLAY_NAME = "Workflow For Each"
    DOCS = "On Run, runs Template per item (currentItem, currentIndex); Completed fires with All Results."

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.items: Any = UNDEFINED
        self.template: Any = UNDEFINED
        self.concurrency: Any = 1
        self.stop_on_failure = True
        self.state = LoopState.IDLE
        self.results: list[Any] = []
        self.errors: list[dict[str, Any]] = []
        self.current_item: Any = UNDEFINED
        self.current_index: Any = UNDEFINED
        self._component: Any = None
        self._next = 0
        self._running = 0

    def _set_items(self, value: Any) -> None:
        self.items = value

    def _set_template(self, value: Any) -> None:
        self.template = value

    def _set_concurrency(self, value: Any) -> None:
        self.concurrency = value

    def _set_policy(self, value: Any) -> None:
        self.stop_on_failure = js_to_string(value) != "continue"

    def _on_run(self) -> None:
        self.schedule_after_inputs(self._start)

    def _start(self) -> None:
        if self.state is not LoopState.IDLE:
            log.info("for each: run ignored, a loop is in progress", node_id=self.id)
            return
        items = self.items if isinstance(self.items, list) else []
        self._component = resolve_template(self, self.template)
        if items and self._component is None:
            self.ctx.report_node_error(self, f"For Each: unknown template {js_to_string(self.template)!r}")
            return
        self.items = items
        self.results = [None] * len(items)
        self.errors = []
        self._next = self._running = 0
        if not items:
            self._announce("completed")  # inside this update, which is already a step
            return
        self.state = LoopState.RUNNING
        # Children start after this frame, as Run Tasks' do (task creation is asynchronous there).
        self.ctx.at_frame_end(self._fill)

    def _fill(self) -> None:
        if self.deleted:  # scheduled with call_soon outside a frame: the run may have ended
            return
        limit = max(1, int(number_or(self.concurrency, 1)))
        while self.state is LoopState.RUNNING and self._running < limit and self._next < len(self.items):
            index = self._next
            self._next += 1
            self._running += 1
            self._start_item(index)

    def _start_item(self, index: int) -> None:
        item = self.items[index]
        self.current_item, self.current_index = item, index
        self.flag_output_dirty("currentItem")
        self.flag_output_dirty("currentIndex")
        self.send_signal("iteration")
        start_child(
            self,
            self._component,
            {"currentItem": item, "currentIndex": index},
            lambda outcome: self._item_ended(index, outcome),
        )

    def _item_ended(self, index: int, outcome: ChildOutcome) -> None:
        self._running -= 1
        step_inputs = {"currentIndex": index, "currentItem": self.items[index]}
        run_as_step(self, step_inputs, lambda: self._record_item(index, outcome))
        if self.state is LoopState.RUNNING:
            self.ctx.at_frame_end(self._fill)
        if self._running == 0 and (self.state is LoopState.STOPPING or self._next >= len(self.items)):
            self._finish("failed" if self.state is LoopState.STOPPING else "completed")

    def _record_item(self, index: int, outcome: ChildOutcome) -> None:
        if outcome.ok:
            self.results[index] = outcome.result
            self.ctx.note_output(self, "result", outcome.result)
            return
        error = dict(outcome.error or {}, index=index)
        self.errors.append(error)
        if self.stop_on_failure:
            self.state = LoopState.STOPPING
        handled = not self.stop_on_failure or self.has_output_connections("failed")
        record_failure(self, f"item {index}: {error.get('message', '')}", handled=handled)

    def _finish(self, signal: str) -> None:
        self.state = LoopState.IDLE
        run_as_step(self, {"items": len(self.items)}, lambda: self._announce(signal))

    def _announce(self, signal: str) -> None:
        for output in ("allResults", "errors", "failedCount"):
            self.flag_output_dirty(output)
        self.send_signal(signal)

    INPUTS = (
        InputSpec("items", "array", set=_set_items, display_name="Items"),
        InputSpec("template", "component", set=_set_template, display_name="Template"),
        InputSpec("concurrency", "number", set=_set_concurrency, default=1, display_name="Concurrency"),
        InputSpec(
            "onItemFailure",
            enum_type("stop", "continue"),
            set=_set_policy,
            default="stop",
            display_name="On Item Failure",
        ),
        InputSpec("run", "signal", on_signal=_on_run, display_name="Run"),
    )
    OUTPUTS = (
        OutputSpec("iteration", "signal", display_name="Iteration", group="Events"),
        OutputSpec("completed", "signal", display_name="Completed", group="Events"),
        OutputSpec("failed", "signal", display_name="Failed", group="Events"),
        OutputSpec("currentItem", "*", get=lambda n: n.current_item, display_name="Current Item"),
        OutputSpec("currentIndex", "number", get=lambda n: n.current_index, display_name="Current Index"),
        OutputSpec("allResults", "array", get=lambda n: list(n.results), display_name="All Results"),
        OutputSpec("errors", "array", get=lambda n: list(n.errors), display_name="Errors"),
        OutputSpec("failedCount", "number", get=lambda n: len(n.errors), display_name="Failed Count"),
    )
