"""Run Tasks: one template component instance per item, a bounded number at a time."""

from __future__ import annotations

import enum
from typing import Any

import structlog

from sidecar.runtime.component import ComponentInstance, new_instance
from sidecar.runtime.export import CLOUD_PREFIX
from sidecar.runtime.node import Node
from sidecar.runtime.objects import Model, new_object_id
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.values import UNDEFINED, js_to_number, js_to_string, js_truthy

log = structlog.get_logger()

_DO = frozenset({"Do"})


class TasksState(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    ABORTED = "aborted"


class RunTasksNode(Node):
    """Empty ``items`` sends Success only, never Done, as the real runner (quirk #14). As there, a
    falsy item (``0``, ``""``, ``null``) ends the start of tasks: it and the items after it never run."""

    TYPE = "RunTasks"
    DISPLAY_NAME = "Run Tasks"
    CATEGORY = "Data"
    SAME_EVERY_RUN = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.items: Any = UNDEFINED
        self.stop_on_failure = False
        self.max_running: Any = 10
        self.template: Any = UNDEFINED
        self.state = TasksState.IDLE
        self.queued: list[Any] = []
        self.total = self.completed = self.failed = 0
        self.active: dict[str, ComponentInstance] = {}
        self._run_scheduled = False
        self._abort_scheduled = False

    def _set_items(self, value: Any) -> None:
        if js_truthy(value):  # JavaScript's: an empty array counts
            self.items = value

    def _set_stop(self, value: Any) -> None:
        self.stop_on_failure = js_truthy(value)

    def _set_max(self, value: Any) -> None:
        self.max_running = value

    def _set_template(self, value: Any) -> None:
        self.template = value

    def _on_run(self) -> None:
        if not self._run_scheduled:
            self._run_scheduled = True
            self.schedule_after_inputs(self._run)

    def _on_abort(self) -> None:
        if not self._abort_scheduled:
            self._abort_scheduled = True
            self.schedule_after_inputs(self._abort)

    def _abort(self) -> None:
        self._abort_scheduled = False
        self.state = TasksState.ABORTED

    def _run(self) -> None:
        self._run_scheduled = False
        if self.state is not TasksState.IDLE or not js_truthy(self.template) or not js_truthy(self.items):
            return
        self.state = TasksState.RUNNING
        items = self.items if isinstance(self.items, list) else [self.items]  # [].concat(items)
        # A non-array has no length: its one task runs, and the tasks never count as all done.
        self.total = len(self.items) if isinstance(self.items, list) else -1
        self.completed = self.failed = 0
        self.queued = list(items)
        if self.total == 0:
            self.send_signal("success")
            self.state = TasksState.IDLE
        # Noodl's start loop compares with the queue's length as it shrinks, so of n items only
        # about half start at once (2 items: 1; 5 items: 3), the rest as tasks finish.
        limit = js_to_number(self.max_running)
        started = 0
        while limit == limit and started < min(limit, len(self.queued)):  # NaN starts nothing
            if not self._start_next():
                break
            started += 1

    def _start_next(self) -> bool:
        """Start the next queued item, unless it is falsy (then nothing starts, as in Noodl)."""
        if not self.queued:
            return False
        item = self.queued.pop(0)
        if not js_truthy(item):
            return False
        # Task creation is asynchronous in the real runner: it happens after this frame.
        self.ctx.at_frame_end(lambda: self._start_task(item))
        return True

    def _start_task(self, item: Any) -> None:
        if self.deleted or self.ctx.settled:
            return
        name = js_to_string(self.template)
        component = self.ctx.services.export.components.get(name) or self.ctx.services.export.components.get(
            CLOUD_PREFIX + name
        )
        if component is None:
            log.warning("run tasks: unknown template", template=name, node_id=self.id)
            return
        data = item if isinstance(item, dict) else {}
        item_id = data.get("id")
        # The item's own id names its object, a number as well (the object is filed under the
        # number's string, as a JavaScript property key; the task's Id input gets the number itself).
        numeric_id = isinstance(item_id, int | float) and not isinstance(item_id, bool)
        model_id = item_id if isinstance(item_id, str) else js_to_string(item_id) if numeric_id else None
        model = self.ctx.models.create(data, model_id)
        # Do counts as connected, so actions wired to it wait for the signal.
        task = new_instance(self.ctx, component, new_object_id(), _DO)
        self._feed(task, model, item_id if numeric_id else model.id)
        task.on_output_changed = lambda port, new, old: self._task_output(port, new, old, task)
        self.active[task.id] = task
        task.queue_input("Do", True)
        task.queue_input("Do", False)

    @staticmethod
    def _feed(task: ComponentInstance, model: Model, item_id: Any) -> None:
        for id_port in ("Id", "id"):
            if task.has_input(id_port):
                task.set_input(id_port, item_id)
        for port in task.input_names():
            value = model.data.get(port, UNDEFINED)
            if value is not UNDEFINED:
                task.set_input(port, value)

    def _task_output(self, port: str, new: Any, old: Any, task: ComponentInstance) -> None:
        if not (new is True and (old is False or old is UNDEFINED)):
            return
        if self.state is TasksState.IDLE or port not in ("Success", "Failure"):
            return
        self.completed += 1
        if port == "Failure":
            self.failed += 1
        self._check_done()
        self.active.pop(task.id, None)
        task.delete()

    def _check_done(self) -> None:
        if self.state is TasksState.ABORTED:
            self.send_signal("aborted")
            self.state = TasksState.IDLE
        elif self.completed == self.total:
            self.send_signal("success" if self.failed == 0 else "failure")
            self.send_signal("done")
            self.state = TasksState.IDLE
        elif self.stop_on_failure and self.failed:
            # The real runner stays "running" here (quirk #15, kept).
            self.send_signal("failure")
            self.send_signal("aborted")
        else:
            self._start_next()

    def delete(self) -> None:
        for task in self.active.values():
            task.delete()
        self.active.clear()
        super().delete()

    INPUTS = (
        InputSpec("items", "array", set=_set_items, display_name="Items", group="Data"),
        InputSpec(
            "stopOnFailure",
            "boolean",
            set=_set_stop,
            default=False,
            display_name="Stop On Failure",
            group="General",
        ),
        InputSpec(
            "maxRunningTasks",
            "number",
            set=_set_max,
            default=10,
            display_name="Max Running Tasks",
            group="General",
        ),
        InputSpec("taskTemplate", "component", set=_set_template, display_name="Template", group="General"),
        InputSpec("run", "signal", on_signal=_on_run, display_name="Do", group="General"),
        InputSpec("abort", "signal", on_signal=_on_abort, display_name="Abort", group="General"),
    )
    OUTPUTS = (
        OutputSpec("success", "signal", display_name="Success", group="Events"),
        OutputSpec("failure", "signal", display_name="Failure", group="Events"),
        OutputSpec("done", "signal", display_name="Done", group="Events"),
        OutputSpec("aborted", "signal", display_name="Aborted", group="Events"),
    )
