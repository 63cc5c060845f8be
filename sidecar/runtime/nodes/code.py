"""Expression and Function nodes: user JavaScript run in the embedded engine."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

import structlog

from sidecar.errors import ScriptError, ScriptLimitError
from sidecar.runtime.bridge import apply_effects
from sidecar.runtime.export import NodeDef
from sidecar.runtime.jsengine import Effects
from sidecar.runtime.node import Node
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.simple_expressions import NOT_SIMPLE, Evaluator, compile_simple
from sidecar.runtime.values import UNDEFINED, js_to_string, js_truthy, strict_equals

if TYPE_CHECKING:
    from sidecar.runtime.recorder import Recorder

log = structlog.get_logger()

# The real runner drops "…" then '…' spans (no escapes) before looking for names; template
# literals stay, so the names inside `${…}` (and the words around them) are inputs.
_DOUBLE_QUOTED = re.compile(r'"[^"]*"')
_SINGLE_QUOTED = re.compile(r"'[^']*'")
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z0-9_$]+)*")
_IGNORED_IDENTIFIERS = frozenset(
    [
        "min",
        "max",
        "cos",
        "sin",
        "tan",
        "sqrt",
        "pi",
        "round",
        "floor",
        "ceil",
        "abs",
        "random",
        "Math",
        "window",
        "document",
        "undefined",
        "Vars",
        "true",
        "false",
        "null",
        "Boolean",
        # The sidecar's console (docs/runtime-javascript.md): the real runner would make it an input.
        "console",
    ]
)


@functools.lru_cache(maxsize=1024)  # an export has few distinct expressions; each run re-reads them
def expression_identifiers(expression: str) -> tuple[str, ...]:
    """Inputs of an Expression: identifiers outside quoted strings, first segment of ``a.b``, in order."""
    stripped = _SINGLE_QUOTED.sub("", _DOUBLE_QUOTED.sub("", expression))
    names: dict[str, None] = {}
    for match in _IDENTIFIER.finditer(stripped):
        name = match.group().split(".", 1)[0]
        if name not in _IGNORED_IDENTIFIERS:
            names[name] = None
    return tuple(names)


@functools.cache
def _identifier_input(name: str) -> InputSpec:
    def store(node: Any, value: Any) -> None:
        node.values[name] = value
        if not node.is_input_connected("run"):
            node.schedule_evaluation()

    return InputSpec(name, "*", set=store, default=0)


@functools.cache
def _script_input(name: str) -> InputSpec:
    key = name[3:]

    def store(node: Any, value: Any) -> None:
        node.inputs[key] = value
        if not node.is_input_connected("run"):
            node.schedule_run()

    return InputSpec(name, "*", set=store)


@functools.cache
def _script_array_input(name: str) -> InputSpec:
    """An ``in-*`` input the editor typed ``array`` (parameter ``intype-*``): a string arriving at
    it is evaluated as JavaScript first, as at every array input (see ``Node.set_input``)."""
    spec = _script_input(name)
    return InputSpec(name, "array", set=spec.set)


@functools.cache
def _script_output(name: str, signal: bool) -> OutputSpec:
    if signal:
        return OutputSpec(name, "signal")
    key = name[4:]
    return OutputSpec(name, "*", get=lambda node: node.outputs.get(key, UNDEFINED))


_IGNORED_INPUT = InputSpec("*", "*", set=lambda node, value: None)


class ExpressionNode(Node):
    TYPE = "Expression"
    LANGUAGE = "javascript"
    DISPLAY_NAME = "Expression"
    CATEGORY = "CustomCode"
    SHARES_DYNAMIC_PORTS = True
    SAME_EVERY_RUN = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.identifiers: tuple[str, ...] = ()
        self.values: dict[str, Any] = {}
        self.handle: str | None = None
        self.simple: Evaluator | None = None  # evaluated in Python when the operands allow it
        self.result: Any = 0
        self._scheduled = False
        self.engine_evaluated = False  # a script result may differ between runs (Math.random, Date)

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        return _identifier_input(name)

    def copyable_after_setup(self) -> bool:
        # A pure expression's engine result depends on its inputs alone: the same on every run.
        return not self.engine_evaluated or (
            self.handle is not None and self.ctx.services.js.is_pure(self.handle)
        )

    def _set_expression(self, value: Any) -> None:
        source = js_to_string(value)
        self.identifiers = expression_identifiers(source)
        for name in self.identifiers:
            self.get_input(name)
            self.values.setdefault(name, 0)
        self.simple = None
        try:
            self.handle = self.ctx.services.js.compile_expression(source, self.identifiers)
        except ScriptLimitError:
            raise
        except ScriptError as error:
            log.info("expression does not compile", node_id=self.id, error=error.message)
            self.handle = None
        else:
            self.simple = compile_simple(source, self.identifiers)
        if not self.is_input_connected("run"):
            self.schedule_evaluation()

    def _on_run(self) -> None:
        self.schedule_evaluation()

    def schedule_evaluation(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.schedule_after_inputs(self._evaluate)

    def _evaluate(self) -> None:
        self._scheduled = False
        previous = self.result
        self.result = self._compute()
        if not strict_equals(previous, self.result):
            self.flag_output_dirty("result")
            self.flag_output_dirty("isTrue")
            self.flag_output_dirty("isFalse")
        self.send_signal("isTrueEv" if js_truthy(self.result) else "isFalseEv")

    def _compute(self) -> Any:
        if self.handle is None:
            return 0
        args = [self.values.get(name, 0) for name in self.identifiers]
        if self.simple is not None:
            result = self.simple(args)
            if result is not NOT_SIMPLE:
                return result
        self.engine_evaluated = True
        try:
            return self.ctx.services.js.call_expression(self.ctx, self.handle, args, self)
        except ScriptLimitError as error:
            self.ctx.reject(error.message)
            return UNDEFINED
        except ScriptError as error:
            log.info("expression failed", node_id=self.id, error=error.message)
            return 0

    INPUTS = (
        InputSpec("expression", "string", set=_set_expression, priority=1, display_name="Expression"),
        InputSpec("run", "signal", on_signal=_on_run, display_name="Run"),
    )
    OUTPUTS = (
        OutputSpec("result", "*", get=lambda node: node.result, display_name="Result"),
        OutputSpec("isTrue", "boolean", get=lambda node: js_truthy(node.result), display_name="Is True"),
        OutputSpec(
            "isFalse", "boolean", get=lambda node: not js_truthy(node.result), display_name="Is False"
        ),
        OutputSpec("isTrueEv", "signal", display_name="On True"),
        OutputSpec("isFalseEv", "signal", display_name="On False"),
    )


class ScriptHostNode(Node):
    """A node whose scripts write ``Outputs.x``: registered with the bridge, outputs ``out-*``."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.inputs: dict[str, Any] = {}
        self.outputs: dict[str, Any] = {}
        self.signal_outputs: list[str] = []
        self.key = f"{self.id}#{len(self.ctx.script_nodes)}"
        self.ctx.script_nodes[self.key] = self

    def make_dynamic_output(self, name: str) -> OutputSpec | None:
        return _script_output(name, name[4:] in self.signal_outputs) if name.startswith("out-") else None

    def set_script_output(self, name: str, value: Any) -> None:
        self.outputs[name] = value
        self.flag_output_dirty("out-" + name)


class ScriptFunctionNode(ScriptHostNode):
    """A script over ``in-*`` inputs sending ``out-*`` outputs and signals, run once per sweep of
    its inputs on ``run``, or on any input change while ``run`` is not connected (the JavaScript
    Function and its Python twin). Subclasses say how a run goes in ``_run_script``."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._scheduled = False
        self.array_inputs: frozenset[str] = frozenset()

    def setup(self, node_def: NodeDef) -> None:
        # Outputs.X() exists only for exported `out-X` ports of type signal.
        self.signal_outputs = [
            port.name[4:] for port in node_def.ports if port.name.startswith("out-") and port.is_signal
        ]
        # The real runner types an input by its `intype-X` parameter; only `array` changes a value.
        self.array_inputs = frozenset(
            "in-" + key[len("intype-") :]
            for key, value in node_def.parameters.items()
            if key.startswith("intype-") and value == "array"
        )

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        if name.startswith("in-"):
            return _script_array_input(name) if name in self.array_inputs else _script_input(name)
        if name.startswith(("intype-", "outtype-")):
            return _IGNORED_INPUT
        return None

    def _on_run(self) -> None:
        self.schedule_run()

    def schedule_run(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.schedule_after_inputs(self._scheduled_run)

    def _scheduled_run(self) -> None:
        self._scheduled = False
        self._run_script()

    def _run_script(self) -> None:
        raise NotImplementedError


class FunctionNode(ScriptFunctionNode):
    """``JavaScriptFunction``: an async script with ``Inputs``, ``Outputs``, ``Noodl``, ``Component``."""

    TYPE = "JavaScriptFunction"
    LANGUAGE = "javascript"
    DISPLAY_NAME = "Function"
    CATEGORY = "CustomCode"
    SHARES_DYNAMIC_PORTS = True
    SAME_EVERY_RUN = True

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.handle: str | None = None
        self._calls = 0  # calls of the script so far in this run
        # The call whose step stays open until its script finishes after an await (0: none), so the
        # step is recorded whole: its duration and the outputs it set after the await.
        self._pending_call = 0

    def _set_script(self, value: Any) -> None:
        try:
            self.handle = self.ctx.services.js.compile_function(js_to_string(value))
        except ScriptLimitError as error:
            self.ctx.reject(error.message)
            return
        except ScriptError as error:
            log.warning("Error in JS node code", node_id=self.id, error=error.message)
            self.handle = None
            return
        if not self.is_input_connected("run"):
            self.schedule_run()

    def _run_script(self) -> None:
        if self.handle is None:
            return
        self._calls += 1
        try:
            effects = self.ctx.services.js.run_function(
                self.ctx, self.handle, self.key, self.inputs, self.signal_outputs
            )
        except ScriptError as error:
            self.ctx.reject(error.message)
            return
        apply_effects(self.ctx, effects)
        if effects.continues:
            if self._recorded_outputs is not None:  # a recorded step: it ends when the script does
                self._pending_call = self._calls
            self.ctx.at_frame_end(self._continue_script)
        elif effects.late:
            late = Effects(list(effects.late), {})
            self.ctx.at_frame_end(lambda: apply_effects(self.ctx, late))

    def _begin_update(self) -> Recorder | None:
        if self._pending_call:
            self._finish_step()  # a new update begins a new step: the open one ends with what it has
        return super()._begin_update()

    def _end_update(self, recorder: Recorder | None) -> None:
        if recorder is not None and self._pending_call:
            if self._cyclic:  # the step stays open (script_finished ends it)
                self.ctx.note_cyclic(self)
            return
        super()._end_update(recorder)

    def script_finished(self, call: int) -> None:
        """The script's ``call``-th run has finished (after its awaits): its step ends now."""
        if call == self._pending_call:
            self._finish_step()

    def _finish_step(self) -> None:
        self._pending_call = 0
        if self.ctx.step_recorder is not None and self._recorded_outputs is not None:
            self.ctx.note_node_end(self)

    def _continue_script(self) -> None:
        """Continuations after ``await`` run once the frame is over, as microtasks do in Node."""
        try:
            effects = self.ctx.services.js.run_pending(self.ctx)
        except ScriptError as error:
            self.ctx.reject(error.message)
            return
        apply_effects(self.ctx, effects)

    INPUTS = (
        InputSpec(
            "functionScript",
            {"name": "string", "codeeditor": "javascript"},
            set=_set_script,
            display_name="Script",
        ),
        InputSpec("run", "signal", on_signal=ScriptFunctionNode._on_run, display_name="Run"),
        InputSpec("scriptInputs", "proplist", set=lambda node, value: None, display_name="Inputs"),
        InputSpec("scriptOutputs", "proplist", set=lambda node, value: None, display_name="Outputs"),
    )
