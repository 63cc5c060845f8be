"""The embedded JavaScript engine (QuickJS) for Expression and Function nodes.

Chosen by measurement on the target machine (2 vCPU): calling a compiled function costs ~0.7 µs
with QuickJS versus ~130 µs with ``mini-racer`` (V8) and ~22 µs with ``dukpy``. The binding is
``quickjs-ng`` (the maintained QuickJS fork): the archived ``quickjs`` package's 2021 engine could
crash the process when a script ran out of memory at an unlucky allocation.

Isolation: every run that uses JavaScript gets a QuickJS context of its own (``jsthreads``), so no
global, prototype change or replaced built-in of one run is seen by another; the context is dropped
when the run ends. Script handles name sources, not compiled functions: each run's context compiles
a handle the first time the run uses it. A handle's syntax is checked once per engine, in a context
where no run's data ever goes.

Limits: every call into a run's context runs under a time limit (the smaller of the per-call limit
and what is left of the run's script budget) and the context has a memory limit. Calls run in a worker
thread; the run waits for the answer on the loop thread only while its current piece of work has held
the loop for less than ``stretch_seconds`` (50 ms), and otherwise pauses (``strand``) so the loop
serves other requests until the script ends. QuickJS refuses to call into Python while a time limit
is set, so the prelude (``runtimes/js/prelude.js``) collects effects that Python takes after each call.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
import quickjs  # type: ignore[import-untyped]

from sidecar.errors import ScriptError, ScriptLimitError
from sidecar.runtime.jsthreads import JS_THREADS, ContextShape, JsThreads, RunJs, new_context, read_prelude
from sidecar.runtime.objects import Model
from sidecar.runtime.values import UNDEFINED

if TYPE_CHECKING:
    from sidecar.runtime.context import RunContext

MODEL_TAG = "__noodlModel"
TIME_LIMIT_MESSAGE = "script exceeded its time limit"
MEMORY_LIMIT_MESSAGE = "script exceeded the memory limit"
# Values the binding converts to JS primitives exactly; it truncates ints to 32 bits.
_DIRECT_TYPES = frozenset({str, bool, float, type(None)})
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
NUMBER_TAG = "__noodlNumber"  # {NUMBER_TAG: "NaN"}: a non-finite number inside a value sent to the prelude
_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}
STRETCH_ENV = "NOODL_SIDECAR_JS_STRETCH_MS"
_HANDLE_NUMBERS = itertools.count()
# Source text that may await or start promise jobs (conservatively: any mention). A Function script
# without it runs as a plain function, so no call at the frame's end is needed for it.
_MAY_CONTINUE = re.compile(
    r"await|async|Promise|queueMicrotask|set(?:Timeout|Interval|Immediate)"
    r"|\.\s*(?:then|catch|finally)\b|[\"'`](?:then|catch|finally)[\"'`]"
)
_BUILTIN = (
    r"(?:Object|Function|Array|String|Number|Boolean|Symbol|BigInt|Math|JSON|Date|RegExp|Promise|Reflect"
    r"|Proxy|Map|Set|WeakMap|WeakSet|WeakRef|Iterator|ArrayBuffer|DataView|Atomics"
    r"|(?:Eval|Range|Reference|Syntax|Type|URI|Aggregate|Internal)?Error"
    r"|(?:Int8|Uint8|Uint8Clamped|Int16|Uint16|Int32|Uint32|Float16|Float32|Float64|BigInt64|BigUint64)Array)"
)
# Source text that may change a built-in: prototypes, property definitions, assignments to or
# deletions of a built-in's members, Object.assign onto a built-in.
_ASSIGN = r"\s*(?:[-+*/%&|^]|\*\*|<<|>>>?|\?\?|&&|\|\|)?=(?![=>])"
_CHANGES_BUILTINS = re.compile(
    r"[Pp]rototype|__proto__|defineProperty"
    rf"|\b(?:globalThis\s*\.\s*)?{_BUILTIN}{_ASSIGN}"
    rf"|\b(?:globalThis\s*\.\s*)?{_BUILTIN}\s*(?:\.\s*[\w$]+|\[[^\]]*\]){_ASSIGN}"
    rf"|\bdelete\s+(?:globalThis\s*\.\s*)?{_BUILTIN}\s*[.\[]"
    rf"|\bObject\s*\.\s*assign\s*\(\s*(?:globalThis\s*\.\s*)?{_BUILTIN}\b"
)


# An Expression's free names are its inputs (bound as parameters), except the Math helpers, ``Math``
# itself and a few globals. Expression text that mentions none of the impure ones, reaches no
# constructor or prototype, assigns nothing, holds no template literal (code inside ``${}``) and no
# brace or semicolon (so it is one expression and cannot close the compiled function's body early)
# can only compute a value from its arguments: the same arguments give the same value and leave
# the context as it was. String literals are left out of the check (they are not code).
_EXPRESSION_STRINGS = re.compile(r"([\"'])(?:\\.|(?!\1).)*?\1")
_IMPURE_EXPRESSION = re.compile(
    r"[`{};]|random|console|window|document|Vars|globalThis|constructor|prototype|__|\bdelete\b|\+\+|--"
    r"|(?<![=!<>])=(?![=>])|<<=|>>="
)


def is_pure_expression(body: str) -> bool:
    """Whether an Expression's ``body`` computes its value from its inputs alone, changing nothing.

    Such an expression's value while its scope is set up (its inputs at their defaults) is the same
    on every run, so a copy of the scope may keep it (``scope_template``)."""
    return not _IMPURE_EXPRESSION.search(_EXPRESSION_STRINGS.sub('""', body))


def may_change_builtins(sources: Iterable[str]) -> bool:
    """Whether any of ``sources`` (an export's scripts) looks like it changes a built-in.

    Runs of such an export get contexts whose built-ins are not frozen (as in the real runner),
    used once; other runs get frozen built-ins in contexts that later runs may reuse. A script the
    test misses only finds the built-in frozen (its change has no effect); isolation holds either way.
    """
    return any(_CHANGES_BUILTINS.search(source) for source in sources)


def _stretch_from_env() -> float:
    configured = os.environ.get(STRETCH_ENV, "")
    try:
        milliseconds = float(configured)
    except ValueError:
        return 0.05
    return milliseconds / 1000 if math.isfinite(milliseconds) and milliseconds > 0 else 0.05


def stretch_message(seconds: float) -> str:
    """Why a script was stopped on the event loop, and where CPU-heavy code runs instead."""
    ms = round(seconds * 1000)
    return (
        f"{TIME_LIMIT_MESSAGE}: it held the server's event loop for more than {ms} ms. CPU-heavy scripts "
        "run in a worker thread, up to the full time limit; this function's next runs do "
        f"({STRETCH_ENV} sets the {ms} ms)"
    )


@dataclass(frozen=True, slots=True)
class JsLimits:
    call_seconds: float = 1.0
    run_seconds: float = 5.0
    memory_bytes: int = 256 * 1024 * 1024
    stack_bytes: int = 1024 * 1024
    # How long a run's work may hold the event loop while it waits for a script; past it the run
    # pauses and the loop serves others. Environment: NOODL_SIDECAR_JS_STRETCH_MS.
    stretch_seconds: float = field(default_factory=_stretch_from_env)


@dataclass(slots=True)
class JsRunState:
    """Per-run bookkeeping on the Python side of the bridge."""

    js: RunJs | None = None  # the run's own context, made on first use
    opened: bool = False  # openRun has run in ``js``
    inline: bool = False  # ``js`` lives on the loop thread (the function's scripts have been quick)
    user_code_ran: bool = False  # a script of the run has run in ``js``
    longest: float = 0.0  # the longest call of the run so far, in seconds
    spent_seconds: float = 0.0
    synced_models: set[str] = field(default_factory=set)
    # Only pure expressions (compile_expression's ``pure``) ran in ``js``: the run left nothing in
    # the engine that a copy of its scope would need (see ``holds_nothing``).
    only_pure: bool = True
    # A context of the run was dropped after the run's state had opened in it: the next one must be
    # given every object (a new object is marked changed when made, so a first opening needs no mark).
    reopening: bool = False
    # The run's pending script timers (setTimeout/setInterval) by id, as event loop handles.
    timers: dict[int, asyncio.TimerHandle] = field(default_factory=dict)


class Effects(NamedTuple):
    """What scripts did during one call: ordered effects and changed objects.

    After a Function node's call, ``continues`` tells whether its script may have left promise jobs
    (then the frame's end runs them, ``run_pending``); ``late`` holds what a script that cannot have
    any reports at the frame's end instead (its throw). A named tuple: one is made for every call,
    and a tuple is made in C.
    """

    effects: list[list[Any]]
    models: dict[str, dict[str, Any]]
    continues: bool = True
    late: Sequence[list[Any]] = ()


class _DeadlinePassed(Exception):
    """Pending promise jobs ran past the call's time limit."""


class _MovedToWorker(Exception):
    """A run's first script call outran the stretch on the loop thread; it is made again in a worker."""


# A function's runs call scripts on the loop thread (no round trip to a worker) once this many runs in
# a row had no call longer than QUICK_CALL_SECONDS, a tenth of the default stretch.
QUICK_RUNS_BEFORE_INLINE = 20
QUICK_CALL_SECONDS = 0.005
# How long a run's work waits on the loop thread for a worker's answer before it pauses instead.
PAUSE_AFTER_SECONDS = 0.002
_USER_CODE = frozenset(
    {
        "callExpression",
        "callExpressionDirect",
        "evalArrayLiteral",
        "queryFilter",
        "runFunction",
        "runScript",
        "",
    }
)


def _replaying(method: Callable[..., Any]) -> Callable[..., Any]:
    """Make ``method`` again, once, after its run moved from the loop thread to a worker."""

    @functools.wraps(method)
    def replayed(self: JsEngine, run: RunContext, *args: Any) -> Any:
        try:
            return method(self, run, *args)
        except _MovedToWorker:
            return method(self, run, *args)

    return replayed


Step = tuple[str, tuple[Any, ...]]


class JsEngine:
    # Handles stay valid for the engine's life (they name sources): scope templates keep them.
    generation = 0

    def __init__(self, limits: JsLimits | None = None, threads: JsThreads | None = None) -> None:
        self.limits = limits or JsLimits()
        self._threads = threads or JS_THREADS
        self._locked = ContextShape(self.limits.memory_bytes, self.limits.stack_bytes, locked=True)
        self._unlocked = ContextShape(self.limits.memory_bytes, self.limits.stack_bytes, locked=False)
        self._handles: dict[tuple[str, str], str] = {}
        self._sources: dict[str, Step] = {}  # handle → the prelude call that compiles it
        self._uses_noodl: set[str] = set()
        self._sync: set[str] = set()  # Function scripts compiled as plain functions
        self._pure: set[str] = set()  # pure expressions (is_pure_expression)
        self._checkers = threading.local()
        # Per function (its runtime's services and its name): quick runs in a row, or None once its
        # runs call scripts on the loop thread.
        self._quick_runs: dict[tuple[int, str], int | None] = {}
        # Contexts take milliseconds to make: the first run should not wait for them.
        self._threads.prepare(self._locked)
        self._check("compileExpression", "[]", "0")

    # ---- the run's context -------------------------------------------------------------------------
    def _state(self, run: RunContext) -> JsRunState:
        state: JsRunState | None = run.js_state
        if state is not None and state.js is not None:  # every call after the run's first
            return state
        if state is None:
            state = run.js_state = JsRunState()
        if state.js is None:
            if run.settled:  # torn down: a context taken now would never be retired
                raise ScriptError("the run has ended")
            shape = self._unlocked if run.services.js_changes_builtins else self._locked
            state.inline = shape.locked and self._quick_runs.get(_function_key(run), 0) is None
            if state.inline:
                state.js = self._threads.context_here(shape)
            else:
                state.js = self._threads.context_for_new_run(shape)
            state.opened = False
            state.user_code_ran = False
            state.synced_models.clear()
        return state

    def _call(
        self,
        run: RunContext,
        name: str,
        *args: Any,
        steps: list[Step] | None = None,
        job: Callable[[RunJs, float], Any] | None = None,
        pure: bool = False,
    ) -> Any:
        """Run ``steps`` then the prelude's ``name(*args)`` (or ``job``) in the run's context; ``pure``:
        the call is of a pure expression (it changes nothing in the context)."""
        state: JsRunState | None = run.js_state
        if state is None or state.js is None:
            state = self._state(run)
        js = state.js
        assert js is not None
        limit = min(self.limits.call_seconds, self.limits.run_seconds - state.spent_seconds)
        if limit <= 0:
            raise ScriptLimitError(TIME_LIMIT_MESSAGE)  # the run's script budget is spent
        stretched = state.inline and self.limits.stretch_seconds < limit
        if stretched:
            limit = self.limits.stretch_seconds  # on the loop thread: never longer than the stretch
        replayable = not state.user_code_ran
        if job is not None or name in _USER_CODE:
            state.user_code_ran = True
        if not pure:
            state.only_pure = False
        prepared: Iterable[Step] = ()
        if steps:
            prepared = [(step_name, _binding_safe_all(step_args)) for step_name, step_args in steps]
        call_args = _binding_safe_all(args)
        if job is None:
            work: Callable[[], Any] = lambda: _run_steps(js, limit, prepared, name, call_args)  # noqa: E731
        else:
            given = job
            work = lambda: given(js, limit)  # noqa: E731
        outcome = work
        if not state.inline:
            future = js.worker.submit(work)
            self._wait(run, state, js, future)
            outcome = future.result
        try:
            return outcome()  # an inline context runs the job here, on the loop thread
        except quickjs.JSException as error:
            message = str(error)
            if "out of memory" in message:
                self._drop(run, state)  # a context that ran out of memory is not used again
                raise ScriptLimitError(MEMORY_LIMIT_MESSAGE) from None
            if "interrupted" in message:
                if stretched:
                    self._outran_stretch(run, state, replayable)
                raise ScriptLimitError(TIME_LIMIT_MESSAGE) from None
            raise ScriptError(_first_line(message)) from None
        except _DeadlinePassed:
            if stretched:
                self._outran_stretch(run, state, replayable)
            raise ScriptLimitError(TIME_LIMIT_MESSAGE) from None
        except UnicodeDecodeError:  # the binding cannot return a string holding a lone surrogate
            raise ScriptError("a script produced text with an unpaired surrogate") from None
        finally:
            state.spent_seconds += js.elapsed
            state.longest = max(state.longest, js.elapsed)

    def _outran_stretch(self, run: RunContext, state: JsRunState, replayable: bool) -> None:
        """A call on the loop thread outran the stretch: the function's runs go back to workers. The
        run goes on in a worker when no script of it had run yet (the call is then made again from a
        fresh start); otherwise it fails, saying so."""
        self._quick_runs[_function_key(run)] = 0
        self._drop(run, state)
        if replayable:
            raise _MovedToWorker()
        raise ScriptLimitError(stretch_message(self.limits.stretch_seconds))

    def _wait(self, run: RunContext, state: JsRunState, js: RunJs, future: Future[Any]) -> None:
        """Wait on the loop thread for a quick answer; else pause the run's work until the script ends.

        The wait is short (PAUSE_AFTER_SECONDS) rather than the whole stretch: many runs waiting in
        turn would otherwise hold the loop for a stretch each.
        """
        strand = run.strand
        if strand.inside():
            wait = min(PAUSE_AFTER_SECONDS, self.limits.stretch_seconds - strand.elapsed())
            if not _done_within(future, wait):
                strand.pause_until(future)
            return
        if not _done_within(future, self.limits.stretch_seconds):
            # Not a piece of the run's work (nothing to pause): stop waiting; the script runs on to
            # its time limit in the worker and its context is dropped after it.
            self._drop(run, state)
            raise ScriptLimitError(stretch_message(self.limits.stretch_seconds))

    @staticmethod
    def _drop(run: RunContext, state: JsRunState, reusable: bool = False) -> None:
        """The run is done with its context: retire it on its worker, after any job still in it."""
        # Only pure expressions ran: nothing of the run is in the context (no run state, no globals,
        # no promise jobs), so it goes back to the ready ones without a look inside.
        untouched = state.only_pure and not state.opened and not state.timers
        js, state.js = state.js, None
        state.reopening = state.reopening or state.opened
        state.opened = False
        state.only_pure = True
        if js is not None and not js.retired:
            js.retired = True
            if state.inline:
                js.retire(run.run_id, reusable, untouched)  # its context lives on this thread
            else:
                js.worker.submit(functools.partial(js.retire, run.run_id, reusable, untouched))

    def _check(self, name: str, *args: Any) -> None:
        """Compile a script in this thread's syntax checker, a context no run's data goes into.

        QuickJS's Function constructor runs code that closes the function body early, so a source
        (which may come from a request, at an Expression's input) can run code here: the checker's
        built-ins are frozen like a reused run context's, and such code stops at the stretch.
        """
        checker: tuple[Any, dict[str, Any]] | None = getattr(self._checkers, "context", None)
        if checker is None:
            shape = ContextShape(self.limits.memory_bytes, self.limits.stack_bytes, locked=True)
            checker = self._checkers.context = new_context(shape, read_prelude())
        ctx, api = checker
        ctx.set_time_limit(self.limits.stretch_seconds)
        try:
            api[name]("check", *map(_binding_safe, args))
        except quickjs.JSException as error:
            message = str(error)
            if "out of memory" in message or "interrupted" in message:
                self._checkers.context = None
                raise ScriptLimitError(
                    MEMORY_LIMIT_MESSAGE if "memory" in message else TIME_LIMIT_MESSAGE
                ) from None
            raise ScriptError(_first_line(message)) from None

    def _register(self, key: tuple[str, str], prefix: str, compile_name: str, *args: Any) -> str:
        handle = self._handles.get(key)
        if handle is None:
            self._check(compile_name, *args)
            handle = f"{prefix}{next(_HANDLE_NUMBERS)}"  # unique in the process: contexts are reused
            self._handles[key] = handle
            self._sources[handle] = (compile_name, (handle, *args))
        return handle

    def _compiling(self, run: RunContext, handle: str, steps: list[Step]) -> list[Step]:
        """Add the step that compiles ``handle`` when the run's context lacks it."""
        state: JsRunState | None = run.js_state
        js = state.js if state is not None else None
        if js is None:
            js = self._state(run).js
            assert js is not None
        if handle not in js.compiled:
            js.compiled.add(handle)
            steps.append(self._sources[handle])
        return steps

    # ---- expressions -------------------------------------------------------------------------------
    def compile_expression(self, body: str, params: tuple[str, ...]) -> str:
        """Register ``return (<body>);`` with Math helpers and ``params`` bound; returns a handle."""
        handle = self._register(
            ("expr:" + ",".join(params), body), "e", "compileExpression", json.dumps(list(params)), body
        )
        if is_pure_expression(body):
            self._pure.add(handle)
        return handle

    def is_pure(self, handle: str) -> bool:
        """Whether the expression ``handle`` is pure: its value depends on its arguments alone and
        calling it changes nothing in the run's context (see ``is_pure_expression``)."""
        return handle in self._pure

    @staticmethod
    def holds_nothing(run: RunContext) -> bool:
        """Whether the run has no JavaScript state a copy of its scope would lack: none, or a context
        in which only pure expressions ran (no run state opened, no timers)."""
        state: JsRunState | None = run.js_state
        return state is None or (state.only_pure and not state.opened and not state.timers)

    @_replaying
    def call_expression(self, run: RunContext, handle: str, args: list[Any], node: Any = None) -> Any:
        """The expression's value; its console lines (if any) go to ``run.script_log`` as ``node``'s."""
        steps = self._compiling(run, handle, [])
        pure = handle in self._pure
        if _all_direct(args):
            result = self._call(run, "callExpressionDirect", handle, *args, steps=steps, pure=pure)
            if not isinstance(result, str):
                return result
            if result[0] == "s":
                return result[1:]
            if result[0] == "L":
                return self._logged_result(run, node, result)
            return decode_value(result[1:], None)
        result = self._call(run, "callExpression", handle, encode_value(args), steps=steps, pure=pure)
        if result[:1] == "L":
            return self._logged_result(run, node, result)
        return decode_value(result, None)

    @staticmethod
    def _logged_result(run: RunContext, node: Any, text: str) -> Any:
        """A result that came with console lines (``L[lines, encoded value]``): pass the lines on."""
        lines, encoded = _loads(text[1:])
        for level, time_ms, line in lines:
            run.script_log(node, level, time_ms, line)
        return decode_value(encoded, None)

    @_replaying
    def eval_array_literal(self, run: RunContext, source: str) -> Any:
        """A string arriving at an array input is evaluated as JavaScript in the run's own context
        (as the real runner does); failures give ``[]``."""
        try:
            return decode_value(self._call(run, "evalArrayLiteral", source), None)
        except ScriptError:
            return []

    @_replaying
    def query_filter(
        self, run: RunContext, code: str, inputs: dict[str, Any], collection: str, metadata: Any
    ) -> dict[str, Any]:
        """Run a Query Records JSON filter script; ``{where, sort, errors}`` as a Parse query."""
        raw = self._call(run, "queryFilter", code, encode_value(inputs), collection, encode_value(metadata))
        result: dict[str, Any] = json.loads(raw)
        return result

    # ---- function nodes ----------------------------------------------------------------------------
    def compile_function(self, script: str) -> str:
        sync = not _MAY_CONTINUE.search(script)
        handle = self._register(("fn", script), "f", "compileFunction", script, sync)
        if sync:
            self._sync.add(handle)
        if "Noodl" in script:  # only then can the script reach objects it was not given
            self._uses_noodl.add(handle)
        return handle

    @_replaying
    def run_function(
        self, run: RunContext, handle: str, node_key: str, inputs: dict[str, Any], signals: list[str]
    ) -> Effects:
        referenced: set[str] = set()
        encoded_inputs = encode_value(inputs, referenced)
        uses_noodl = handle in self._uses_noodl
        # The run's state opens and changed objects are mirrored inside this call, not by calls of their own.
        models_json, opening = self._open_folded(run, None if uses_noodl else referenced)
        effects = self._call(
            run,
            "runFunction",
            run.run_id,
            handle,
            node_key,
            encoded_inputs,
            _signals_json(tuple(signals)),
            uses_noodl,
            models_json,
            *opening,
            steps=self._compiling(run, handle, []),
        )
        # Only the synchronous part: continuations after an await run at the frame's end (run_pending).
        return self._effects(effects, run, continues=handle not in self._sync)

    def compile_script(self, script: str, params: tuple[str, ...]) -> str:
        """A plain (non-async) function of ``params`` with ``script`` as its body."""
        return self._register(
            ("script:" + ",".join(params), script), "s", "compileScript", json.dumps(list(params)), script
        )

    @_replaying
    def run_script(
        self, run: RunContext, handle: str, node_key: str, inputs: dict[str, Any], payload: Any
    ) -> tuple[Any, Effects]:
        """Run a compiled script on a payload it may modify; the payload after, and the effects."""
        steps = self._compiling(run, handle, self._open(run))
        after = self._call(
            run,
            "runScript",
            run.run_id,
            handle,
            node_key,
            encode_value(inputs),
            encode_value(payload),
            steps=steps,
        )
        return decode_value(after, run), self._drain(run)

    @_replaying
    def settle_host_call(self, run: RunContext, call_id: int, ok: bool, value: Any) -> Effects:
        steps = self._open(run)
        payload = encode_value(value) if ok else str(value)
        steps.append(("settle", (run.run_id, call_id, ok, payload)))
        return self._drain(run, steps)

    @_replaying
    def fire_timer(self, run: RunContext, timer_id: int) -> Effects:
        """A script timer's delay is over: run its callback and the promise jobs after it."""
        steps = self._open(run)
        steps.append(("fireTimer", (run.run_id, timer_id)))
        return self._drain(run, steps)

    def _open(self, run: RunContext, only: set[str] | None = None) -> list[Step]:
        """The steps that give the run its JS state and mirror changed objects into it.

        ``only``: the objects a script can reach through its inputs, when it cannot reach others
        (its code never mentions ``Noodl``); otherwise every object changed since the last call.
        """
        models_json, opening = self._open_folded(run, only)
        if models_json:
            return [("syncModels", (run.run_id, models_json, *opening))]
        if opening:
            return [("openRun", (run.run_id, *opening))]
        return []

    def _open_folded(self, run: RunContext, only: set[str] | None) -> tuple[str, tuple[str, ...]]:
        """As ``_open``, for a prelude call that opens the run and mirrors objects itself: the JSON of
        the objects to mirror ('' for none) and, when the run is not open yet, its settings and
        metadata text (else empty). ``runFunction`` takes both as its last arguments, so a Function
        call needs no crossing of its own for either."""
        state = self._state(run)
        opening: tuple[str, ...] = ()
        if not state.opened:
            state.opened = True
            opening = (run.services.settings_json, run.services.metadata_json)
            if state.reopening:
                run.models.changed.update(model.id for model in run.models.all())
        changed = run.models.changed
        if not changed and (only is None or only <= state.synced_models):
            return "", opening  # nothing to mirror (the usual case)
        if only is not None:
            wanted = {i for i in only if i in changed or i not in state.synced_models}
        else:
            wanted = set(changed)
        if not wanted:
            return "", opening
        payload = {}
        for model_id in wanted:
            model = run.models.find(model_id)
            if model is not None:
                payload[model_id] = model.data
        changed.difference_update(wanted)
        state.synced_models.update(wanted)
        return (encode_value(payload) if payload else ""), opening

    def run_pending(self, run: RunContext) -> Effects:
        """The microtask checkpoint: run pending promise jobs (script continuations), take effects."""
        state: JsRunState | None = run.js_state
        if state is None or state.js is None or not state.opened:
            return Effects(effects=[], models={})
        return self._drain(run)

    def _drain(self, run: RunContext, steps: list[Step] | None = None) -> Effects:
        """Run ``steps``, then pending promise jobs under the time limit; take the effects."""
        prepared = [(name, tuple(map(_binding_safe, args))) for name, args in steps or ()]
        run_id = run.run_id

        def job(js: RunJs, limit: float) -> Any:
            return _drain_jobs(js, limit, prepared, run_id)

        return self._effects(self._call(run, "", job=job), run)

    @staticmethod
    def _effects(text: str, run: RunContext, continues: bool = True) -> Effects:
        raw = _loads(text)
        changed = raw["models"]
        if changed and MODEL_TAG in text:  # an object holding another: revive the references
            changed = {
                model_id: {key: _revive(value, run) for key, value in data.items()}
                for model_id, data in changed.items()
            }
        models: dict[str, dict[str, Any]] = changed
        return Effects(raw["effects"], models, continues, raw.get("late") or ())

    def release_run(self, run: RunContext) -> None:
        """The run has ended: its context is retired (on its worker, after any job still in it)."""
        state: JsRunState | None = run.js_state
        if state is not None:
            for handle in state.timers.values():  # nothing of the run stays scheduled
                handle.cancel()
            state.timers.clear()
            if state.js is not None and not state.inline:
                self._note_run(run, state)
            self._drop(run, state, reusable=True)
        run.js_state = None

    def _note_run(self, run: RunContext, state: JsRunState) -> None:
        key = _function_key(run)
        quick = self._quick_runs.get(key, 0)
        if quick is None:
            return
        if state.longest >= QUICK_CALL_SECONDS or run.services.js_changes_builtins:
            self._quick_runs[key] = 0
        elif quick + 1 >= QUICK_RUNS_BEFORE_INLINE:
            self._quick_runs[key] = None
        else:
            self._quick_runs[key] = quick + 1


@functools.lru_cache(maxsize=1024)  # a node's signal names are the same on every call
def _signals_json(signals: tuple[str, ...]) -> str:
    return json.dumps(list(signals))


def _function_key(run: RunContext) -> tuple[int, str]:
    return id(run.services), run.function


def _done_within(future: Future[Any], seconds: float) -> bool:
    if future.done():
        return True
    if seconds <= 0:
        return False
    try:
        future.exception(timeout=seconds)
    except TimeoutError:
        return False
    return True


def _run_steps(js: RunJs, limit: float, steps: Iterable[Step], name: str, args: tuple[Any, ...]) -> Any:
    """A job on the context's worker: the preparing steps, then one prelude call."""
    if js.context is None:
        js.ensure()
    js.context.set_time_limit(limit)
    started = time.perf_counter()
    try:
        api = js.api
        for step_name, step_args in steps:
            api[step_name](*step_args)
        return api[name](*args)
    finally:
        js.elapsed = time.perf_counter() - started


def _drain_jobs(js: RunJs, limit: float, steps: list[Step], run_id: str) -> Any:
    """A job on the context's worker: steps, then promise jobs until none is left; the effects."""
    js.ensure()
    context = js.context
    context.set_time_limit(limit)
    started = time.perf_counter()
    # Measured as the engine measures its own limit, in process CPU time: a starved process (a loaded
    # machine) must not fail a quick script for time it spent waiting for a core.
    deadline = time.process_time() + limit
    try:
        api = js.api
        for step_name, step_args in steps:
            api[step_name](*step_args)
        while context.execute_pending_job():
            if time.process_time() > deadline:
                raise _DeadlinePassed()
        return api["takeEffects"](run_id)
    finally:
        js.elapsed = time.perf_counter() - started


def _all_direct(args: list[Any]) -> bool:
    """Whether the binding converts every argument exactly, so no JSON round trip is needed."""
    for arg in args:  # a loop, not all(<generator>): this runs for every expression evaluation
        kind = type(arg)
        if kind is str:
            if "\x00" in arg or (not arg.isascii() and _has_lone_surrogate(arg)):
                # JSON carries these exactly (as escapes); the binding ends a string at NUL and
                # cannot carry a lone surrogate
                return False
        elif kind not in _DIRECT_TYPES and not (kind is int and _INT32_MIN <= arg <= _INT32_MAX):
            return False
    return True


def _has_lone_surrogate(text: str) -> bool:
    """A string JSON can hold ("\\ud800") but UTF-8 cannot; the QuickJS binding crashes on one."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _binding_safe_all(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``args`` with _binding_safe applied; the same tuple when every string is ASCII (nearly always)."""
    for arg in args:
        if type(arg) is str and not arg.isascii():
            return tuple(map(_binding_safe, args))
    return args


def _binding_safe(arg: Any) -> Any:
    """Last guard before the binding (script sources, names): a lone surrogate becomes U+FFFD."""
    if type(arg) is str and not arg.isascii() and _has_lone_surrogate(arg):
        return _LONE_SURROGATE.sub("\ufffd", arg)
    return arg


def _first_line(message: str) -> str:
    return message.splitlines()[0] if message else "script error"


def _js_default(value: object) -> object:
    if isinstance(value, Model):
        return {MODEL_TAG: value.id}
    if value is UNDEFINED:
        return None
    raise TypeError(f"cannot pass {type(value).__name__} to JavaScript")


# orjson hands every value it has no plain JSON form for to ``default`` (subclasses, dates and
# dataclasses included, so they are refused or mapped as the json module path does).
_ORJSON_OPTIONS = (
    orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def encode_value(value: Any, referenced: set[str] | None = None) -> str:
    """JSON for the prelude's ``decode``: objects become ``{"__noodlModel": id}`` (ids noted)."""
    default: Callable[[object], object] = _js_default
    if referenced is not None:

        def noting(item: object) -> object:
            if isinstance(item, Model):
                referenced.add(item.id)
            return _js_default(item)

        default = noting

    # orjson first (several times faster for the small values scripts get). It writes NaN/Infinity
    # as null, so a value holding one takes the json module's path below, which tags them (a script
    # gets them as numbers); so does what orjson refuses (integers beyond 64 bits, lone surrogates,
    # non-string keys, values _js_default refuses). A null in the text is mostly null or undefined
    # (every Request object has one): only then is the value searched for a non-finite number.
    try:
        fast = orjson.dumps(value, default=default, option=_ORJSON_OPTIONS)
        if b"null" not in fast or not _has_non_finite(value):
            return fast.decode()
    except orjson.JSONEncodeError:
        pass
    try:
        text = json.dumps(value, default=default, ensure_ascii=False, allow_nan=False)
    except ValueError:  # NaN/Infinity have no JSON form: tagged, the prelude's decode makes them numbers
        value = _finite(value)
        text = json.dumps(value, default=default, ensure_ascii=False, allow_nan=False)
    if text.isascii() or not _has_lone_surrogate(text):
        return text
    return json.dumps(value, default=default, allow_nan=False)  # escaped: JavaScript decodes it exactly


def _has_non_finite(value: Any) -> bool:
    """Whether NaN or an infinity is in ``value`` (orjson took it, so its containers are plain)."""
    kind = type(value)
    if kind is float:
        return not math.isfinite(value)
    if kind is dict:
        value = value.values()
    elif kind is not list and kind is not tuple:
        return False
    for item in value:
        if type(item) is float:
            if not math.isfinite(item):
                return True
        elif _has_non_finite(item):
            return True
    return False


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {NUMBER_TAG: "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"}
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):  # a tuple is written as an array too
        return [_finite(item) for item in value]
    return value


# Sixteen digits in a row may be an integer orjson would not read as the json module does (past 64
# bits it makes a float); such a text, and one orjson refuses (a lone surrogate escape), takes json.
_LONG_DIGITS = re.compile("[0-9]{16}")


def _loads(text: str) -> Any:
    """``json.loads`` of the engine's JSON text, by orjson when it reads the text the same way."""
    if _LONG_DIGITS.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def decode_value(text: str, run: RunContext | None) -> Any:
    """Inverse of the prelude's ``encode``: '' is undefined, non-finite numbers come as words."""
    if text == "":
        return UNDEFINED
    if text in _NON_FINITE:
        return _NON_FINITE[text]
    value = _loads(text)  # fresh containers: reviving is needed only for object references
    return _revive(value, run) if MODEL_TAG in text else value


def _revive(value: Any, run: RunContext | None) -> Any:
    if isinstance(value, dict):
        if run is not None and len(value) == 1 and isinstance(value.get(MODEL_TAG), str):
            return run.models.get(value[MODEL_TAG])
        return {key: _revive(item, run) for key, item in value.items()}
    if isinstance(value, list):
        return [_revive(item, run) for item in value]
    return value
