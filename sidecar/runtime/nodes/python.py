"""Python Function and Python Expression nodes: user Python run in the worker pool, never in here.

They are the twins of the JavaScript Function and Expression nodes (``code``): the same dynamic
ports (``in-*``, ``out-*``), the same triggers (the ``run`` signal, else any input change), but the
code runs in a worker process of :mod:`sidecar.python_runtime`, so a call is asynchronous: its
effects (outputs set, signals sent) are applied, in the order the code made them, in the frame
after the worker answers. Lines the code prints or logs are kept on the step as its ``logs``
output and logged with the run and node ids. A raised exception is reported as the node's failure
(the run goes on, as for a throwing JavaScript Function); a limit (wall, CPU, memory) or a dead
worker fails the run with the reason.
"""

from __future__ import annotations

import ast
import builtins
import functools
from typing import Any

import structlog

from sidecar.errors import ScriptError
from sidecar.python_runtime import CallResult, PythonLimitError, PythonPool, shared_pool
from sidecar.runtime.context import RunContext
from sidecar.runtime.node import Node
from sidecar.runtime.nodes.code import ScriptFunctionNode
from sidecar.runtime.objects import Model
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.recorder import Recorder
from sidecar.runtime.records_api import script_records_call
from sidecar.runtime.values import UNDEFINED, js_to_string

log = structlog.get_logger()

_BUILTIN_NAMES = frozenset(dir(builtins))
MAX_DEPTH = 64  # inputs nested deeper than this are cut (a cycle of objects would never end)


_SCALARS = frozenset([str, int, float, bool, type(None)])


def plain(value: Any, depth: int = 0) -> Any:
    """A graph value as plain data for the worker: undefined as None, objects as their properties."""
    if type(value) in _SCALARS:  # most inputs: checked first, as one set lookup
        return value
    if value is UNDEFINED or depth > MAX_DEPTH:
        return None
    if isinstance(value, Model):
        return {"id": value.id, **{k: plain(v, depth + 1) for k, v in value.data.items()}}
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in value]
    if value is None or isinstance(value, (str, int, float, bool, bytes)):
        return value
    return js_to_string(value)


def _pool(node: Node) -> PythonPool:
    pool = getattr(node.ctx.services, "python", None)
    return pool if isinstance(pool, PythonPool) else shared_pool()


_RECORDS_METHODS = frozenset(
    [
        "query",
        "fetch",
        "create",
        "save",
        "delete",
        "count",
        "distinct",
        "increment",
        "addRelation",
        "removeRelation",
    ]
)


def records_host(ctx: RunContext) -> Any:
    """What ``noodl.records`` in the worker reaches: the run's records port, as ``Noodl.Records`` does
    for a JavaScript Function (same port, same rights, same argument shapes); results as plain data."""

    async def host(op: str, args: list[Any]) -> Any:
        method = op.removeprefix("records.")
        if not op.startswith("records.") or method not in _RECORDS_METHODS:
            raise ScriptError(f"noodl: unknown call {op}")
        records = ctx.services.records
        if records is None:
            raise ScriptError("noodl.records is not available: this backend has no record store")
        return plain(await script_records_call(ctx, records, method, args))

    return host


def call_worker(node: Node, message: dict[str, Any], answered: Any) -> None:
    """Send ``message`` to the node's pool; ``answered(result, error)`` runs when the worker answers."""
    # The message is written now; the pool's reader callback hands the answer straight to the run
    # (``RunContext.answered``), which goes on in that same loop turn: no task or done callback.
    ctx = node.ctx
    pool = _pool(node)
    future = pool.submit(
        message, host=records_host(ctx), ended=functools.partial(ctx.answered, answered), loop=ctx.loop
    )
    ctx.expect(future, owner=node.id, wait=pool.wait_briefly)


def record_log_lines(node: Node, lines: list[dict[str, str]]) -> None:
    """Keep printed lines on the step (its ``logs`` output) and in the sidecar's log."""
    if not lines:
        return
    recorded = node._recorded_outputs
    if recorded is not None:
        recorded["logs"] = lines
    for line in lines:
        log.info(
            "python node output",
            run_id=node.ctx.run_id,
            node_id=node.id,
            line_level=line.get("level"),
            message=line.get("message"),
        )


class StepPerCall(Node):
    """A node whose worker call is one recorded step, as a JavaScript Function's call is: the step the
    update sending the call opened stays open, and the update applying the answer goes on with it and
    ends it (its inputs, the outputs and lines of the answer, the call's duration). An update of the
    node in between (new inputs) closes it early; the answer is then applied in a step of its own."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._calls = 0  # calls sent so far in this run
        self._pending_call = 0  # the call whose step is open (0: none)
        self._answer_in = False  # that call's answer came: the update applying it continues the step

    def call_in_step(self, message: dict[str, Any], apply: Any) -> None:
        """Send ``message``; ``apply(result, error)`` runs in an update of this node once it answers."""
        self._calls += 1
        if self._recorded_outputs is not None:  # within a recorded step: it ends when the answer is in
            self._pending_call = self._calls
        call_worker(self, message, functools.partial(self._call_answered, self._calls, apply))

    def _call_answered(self, call: int, apply: Any, result: Any, error: BaseException | None) -> None:
        if call == self._pending_call:
            self._answer_in = True
        self.schedule_after_inputs(functools.partial(apply, result, error))

    def _begin_update(self) -> Recorder | None:
        if self._pending_call:
            if self._answer_in:
                return self._continue_step()
            self._finish_step()  # a new update begins a new step: the open one ends with what it has
        return super()._begin_update()

    def _continue_step(self) -> Recorder | None:
        """``_begin_update`` of the update that applies the answer: no new step starts."""
        ctx = self.ctx
        if self._frame != ctx.frame_number:
            self._frame = ctx.frame_number
            self._iterations = 0
            self._cyclic = False
        self._updating = True
        self._pending_call = 0
        self._answer_in = False
        return ctx.step_recorder

    def _end_update(self, recorder: Recorder | None) -> None:
        if recorder is not None and self._pending_call:
            if self._cyclic:  # the step stays open (the answer ends it)
                self.ctx.note_cyclic(self)
            return
        super()._end_update(recorder)

    def _finish_step(self) -> None:
        self._pending_call = 0
        self._answer_in = False
        if self.ctx.step_recorder is not None and self._recorded_outputs is not None:
            self.ctx.note_node_end(self)


class PythonFunctionNode(StepPerCall, ScriptFunctionNode):
    """``PythonFunction``: a Python script with ``inputs``, ``outputs`` and ``send_signal``."""

    TYPE = "PythonFunction"
    LANGUAGE = "python"
    DISPLAY_NAME = "Python Function"
    CATEGORY = "CustomCode"
    SHARES_DYNAMIC_PORTS = True
    # Its setup frame only keeps the script; a call started there (Run not connected) is pending
    # work, which keeps the scope from being copied (scope_template), so a copy never skips a call.
    SAME_EVERY_RUN = True
    DOCS = (
        "Runs a Python script in an isolated worker process. The script reads `inputs` (a dict of the "
        "`in-*` inputs), sets `outputs['name'] = value` to send on `out-name`, and calls "
        "`send_signal('done')` to send the `out-done` signal. Top-level `await` works, so an "
        "`async def` can be awaited directly. `print` and `logging` lines are kept on the run's step. "
        "The script runs when `Run` is signalled, or on any input change when `Run` is not connected. "
        "Each call has a time, CPU and memory limit; exceeding one fails the run."
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.script: str | None = None

    def _set_script(self, value: Any) -> None:
        text = js_to_string(value) if value is not UNDEFINED else ""
        self.script = text if text.strip() else None
        if not self.is_input_connected("run"):
            self.schedule_run()

    def _run_script(self) -> None:
        if self.script is None:
            return
        message = {"op": "function", "source": self.script, "inputs": plain(self.inputs)}
        self.call_in_step(message, self._apply)

    def _apply(self, result: CallResult | None, error: BaseException | None) -> None:
        if error is not None or result is None:
            message = error.message if isinstance(error, PythonLimitError) else repr(error)
            log.warning("python function failed", node_id=self.id, error=message)
            self.ctx.report_node_error(self, message)
            self.ctx.reject(message)
            return
        record_log_lines(self, result.logs)
        for effect in result.effects:
            if self.deleted or self.ctx.settled:
                return
            if effect[0] == "set":
                self.set_script_output(str(effect[1]), effect[2])
            elif effect[0] == "signal":
                self.send_signal("out-" + str(effect[1]))
        if not result.ok:
            message = result.error or "Python code failed"
            log.warning("Error in Python node code", node_id=self.id, error=message)
            self.ctx.report_node_error(self, message)

    INPUTS = (
        InputSpec(
            "script",
            {"name": "string", "codeeditor": "python"},
            set=_set_script,
            display_name="Script",
        ),
        InputSpec("run", "signal", on_signal=ScriptFunctionNode._on_run, display_name="Run"),
        InputSpec("scriptInputs", "proplist", set=lambda node, value: None, display_name="Inputs"),
        InputSpec("scriptOutputs", "proplist", set=lambda node, value: None, display_name="Outputs"),
    )


@functools.lru_cache(maxsize=1024)
def expression_names(expression: str) -> tuple[str, ...]:
    """The free names an expression reads (its inputs), in order; () when it does not parse."""
    try:
        tree = ast.parse(expression, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
    bound = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.comprehension)
        for target in ast.walk(node.target)
        if isinstance(target, ast.Name)
    }
    bound |= {arg.arg for node in ast.walk(tree) if isinstance(node, ast.Lambda) for arg in node.args.args}
    names: dict[str, None] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Name) or not isinstance(node.ctx, ast.Load):
            continue
        if node.id not in _BUILTIN_NAMES and node.id not in bound:
            names[node.id] = None
    return tuple(sorted(names, key=lambda name: expression.find(name)))


@functools.cache
def _name_input(name: str) -> InputSpec:
    def store(node: Any, value: Any) -> None:
        node.values[name] = value
        if not node.is_input_connected("run"):
            node.schedule_evaluation()

    return InputSpec(name, "*", set=store)


class PythonExpressionNode(StepPerCall):
    """``PythonExpression``: one Python expression over named inputs, evaluated in the worker pool."""

    TYPE = "PythonExpression"
    LANGUAGE = "python"
    DISPLAY_NAME = "Python Expression"
    CATEGORY = "CustomCode"
    SHARES_DYNAMIC_PORTS = True
    SAME_EVERY_RUN = True  # as the Python Function: an evaluation started in setup stops the copy
    DOCS = (
        "Evaluates one Python expression, such as `price * quantity` or `name.upper()`. Every name the "
        "expression reads (other than Python's builtins) becomes an input. It is evaluated once every "
        "input has a value and again when one changes, or when `Run` is signalled if that is connected "
        "(then an input without a value is `None`). `Result` carries the value; "
        "`On True`/`On False` fire by its truthiness. It runs in an isolated worker process."
    )

    OP = "expression"  # the worker's call

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.expression: str | None = None
        self.names: tuple[str, ...] = ()
        self.values: dict[str, Any] = {}
        self.result: Any = None
        self._scheduled = False

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        return _name_input(name)

    def _set_expression(self, value: Any) -> None:
        text = js_to_string(value) if value is not UNDEFINED else ""
        self.expression = text if text.strip() else None
        self.names = self.names_read(text) if self.expression else ()
        for name in self.names:
            self.get_input(name)
        if not self.is_input_connected("run"):
            self.schedule_evaluation()

    @staticmethod
    def names_read(text: str) -> tuple[str, ...]:
        """The inputs the source reads."""
        return expression_names(text)

    def _on_run(self) -> None:
        self.schedule_evaluation()

    def schedule_evaluation(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.schedule_after_inputs(self._start)

    def _start(self) -> None:
        self._scheduled = False
        if self.expression is None:
            return
        if not self.is_input_connected("run") and any(name not in self.values for name in self.names):
            return  # evaluated once every name it reads has a value, not with placeholders before
        inputs = {name: plain(self.values.get(name)) for name in self.names}
        message = {"op": self.OP, "source": self.expression, "inputs": inputs}
        self.call_in_step(message, self._apply)

    def _apply(self, result: CallResult | None, error: BaseException | None) -> None:
        if error is not None or result is None:
            message = error.message if isinstance(error, PythonLimitError) else repr(error)
            self.ctx.report_node_error(self, message)
            self.ctx.reject(message)
            return
        record_log_lines(self, result.logs)
        if not result.ok:
            message = result.error or "Python expression failed"
            log.info("python expression failed", node_id=self.id, error=message)
            self.ctx.report_node_error(self, message)
            return
        self.result = result.result
        self.emit()

    def emit(self) -> None:
        """Send the new ``result``."""
        self.flag_output_dirty("result")
        self.flag_output_dirty("isTrue")
        self.flag_output_dirty("isFalse")
        self.send_signal("isTrueEv" if self.result else "isFalseEv")

    INPUTS = (
        InputSpec(
            "expression",
            {"name": "string", "codeeditor": "python"},
            set=_set_expression,
            priority=1,
            display_name="Expression",
        ),
        InputSpec("run", "signal", on_signal=_on_run, display_name="Run"),
    )
    OUTPUTS = (
        OutputSpec("result", "*", get=lambda node: node.result, display_name="Result"),
        OutputSpec("isTrue", "boolean", get=lambda node: bool(node.result), display_name="Is True"),
        OutputSpec("isFalse", "boolean", get=lambda node: not node.result, display_name="Is False"),
        OutputSpec("isTrueEv", "signal", display_name="On True"),
        OutputSpec("isFalseEv", "signal", display_name="On False"),
    )
