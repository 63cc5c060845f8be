"""The threads that run JavaScript, and the fresh QuickJS contexts each run gets.

Two facts about the ``quickjs-ng`` binding shape this module. It releases the GIL while a script
runs, so a script spinning in a worker thread leaves the event loop free. And a context keeps the
stack position of the thread that created it for its stack-overflow check: used from another thread,
it reports an overflow at once (or, where the other stack lies higher, misses a real one). So every
context is created, used and freed on one worker thread; calls reach it as jobs on that thread.

Each run that uses JavaScript gets a context of its own (:class:`RunJs`) with the prelude loaded and
drops it when the run ends, so nothing a script changes (globals, built-ins, prototypes) outlives its
run. Loading the prelude takes about a millisecond, so every worker keeps a few contexts ready and
prepares the next ones while it has no job.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, NamedTuple

import quickjs  # type: ignore[import-untyped]

# The prelude ships beside the package; a PyInstaller build unpacks data files under sys._MEIPASS.
PRELUDE_PATH = (
    Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[2])) / "runtimes" / "js" / "prelude.js"
)
# Loaded before the prelude, in this order: stand-ins for Intl and the locale-aware methods QuickJS is
# built without (they compile intl.js, handed over as text, on first use), then Headers and Response
# for fetch, the Node globals QuickJS lacks (Buffer, URL, …), then V8's wording of engine errors.
INTL_SOURCE_PATH = PRELUDE_PATH.with_name("intl.js")
# Compiled on first use, as intl.js: the Node globals, and the V8 wording of errors (on a first error).
NODE_GLOBALS_SOURCE_PATH = PRELUDE_PATH.with_name("node-globals.js")
ERROR_WORDS_SOURCE_PATH = PRELUDE_PATH.with_name("error-words.js")
PRELUDE_PARTS = tuple(
    PRELUDE_PATH.with_name(name)
    for name in (
        "lazy-source.js",
        "intl-lazy.js",
        "web.js",
        "node-globals-lazy.js",
        "errors.js",
        "prelude.js",
    )
)


def read_prelude() -> str:
    """What every context evaluates: the lazily compiled files as strings, then the parts above."""
    intl = json.dumps(INTL_SOURCE_PATH.read_text(encoding="utf-8"))
    node_globals = json.dumps(NODE_GLOBALS_SOURCE_PATH.read_text(encoding="utf-8"))
    error_words = json.dumps(ERROR_WORDS_SOURCE_PATH.read_text(encoding="utf-8"))
    parts = [part.read_text(encoding="utf-8") for part in PRELUDE_PARTS]
    return "\n".join(
        [
            f"globalThis.__intlSource = {intl};",
            f"globalThis.__nodeGlobalsSource = {node_globals};",
            f"globalThis.__errorWordsSource = {error_words};",
            *parts,
        ]
    )


API_NAMES = (
    "openRun",
    "fireTimer",
    "closeRun",
    "syncModels",
    "compileExpression",
    "callExpression",
    "callExpressionDirect",
    "evalArrayLiteral",
    "compileFunction",
    "runFunction",
    "settle",
    "takeEffects",
    "queryFilter",
    "compileScript",
    "runScript",
)
# What one array element costs QuickJS: no array longer than memory_bytes / this can exist. Below
# 2**24 elements even a sparse array's loop in C takes well under a second, so it is not refused.
_JS_VALUE_BYTES = 16
_SHORTEST_ARRAY_GUARD = 2**24
# QuickJS's own stack limit is 1 MiB by default; the thread's C stack must be well above any limit.
_THREAD_STACK_BYTES = 16 * 1024 * 1024
WARM_CONTEXTS = 2  # per worker and per limits: enough for a burst while the next ones are prepared
KEPT_CONTEXTS = 8  # per worker and per limits: clean contexts kept for later runs
MOST_COMPILED = 500  # a context that compiled more scripts than this is not reused (memory)
CLEANUP_SECONDS = 0.01  # for a finished run's leftover promise jobs before its context is reused


Ready = tuple[Any, dict[str, Any], set[str]]  # a context on its worker, its API, its compiled handles


class ContextShape(NamedTuple):
    """The limits a context is created with; ready contexts are kept per shape.

    A named tuple: shapes key the ready contexts on every run, and a tuple hashes in C."""

    memory_bytes: int
    stack_bytes: int
    # Built-ins frozen and the context reused by later runs when a run leaves it clean; else a fresh
    # context per run, whose scripts may change built-ins for themselves.
    locked: bool = True


class RunJs:
    """One run's QuickJS context, bound to the worker that created it.

    Only jobs on ``worker`` touch ``context`` and ``api``; the event loop keeps the handle and the set
    of script handles compiled into the context (it decides what a job must compile first).
    """

    __slots__ = ("api", "compiled", "context", "elapsed", "retired", "shape", "worker")

    def __init__(self, worker: JsWorker | LoopHost, shape: ContextShape, ready: Ready | None) -> None:
        self.worker = worker
        self.shape = shape
        self.context: Any = None
        self.api: dict[str, Any] = {}
        self.compiled: set[str] = set()
        if ready is not None:
            self.context, self.api, self.compiled = ready
        self.elapsed = 0.0  # seconds the last job spent in the engine (written by the worker)
        self.retired = False

    def ensure(self) -> None:
        """On the worker: make the context if the run got none ready."""
        if self.context is None:
            self.context, self.api = new_context(self.shape, self.worker.prelude)

    def retire(self, run_id: str, reusable: bool, untouched: bool = False) -> None:
        """On the worker, after the run: keep the context for a later run if nothing of this run can
        be left in it, else free it here, where it was made. ``untouched``: the run only called pure
        expressions (jsengine.is_pure_expression), which leave nothing behind."""
        context, api, self.context, self.api = self.context, self.api, None, {}
        if context is None or not reusable or not self.shape.locked or len(self.compiled) > MOST_COMPILED:
            return
        if untouched:
            self.worker.keep(self.shape, (context, api, self.compiled))
            return
        try:
            context.set_time_limit(CLEANUP_SECONDS)
            deadline = time.perf_counter() + CLEANUP_SECONDS
            while context.execute_pending_job():  # the run's leftover continuations, if any
                if time.perf_counter() > deadline:
                    return
            if api["closeRun"](run_id) is True:  # closed, and the context is clean
                self.worker.keep(self.shape, (context, api, self.compiled))
        except quickjs.JSException:
            return


def new_context(shape: ContextShape, prelude: str) -> tuple[Any, dict[str, Any]]:
    ctx = quickjs.Context()
    ctx.set_memory_limit(shape.memory_bytes)
    ctx.set_max_stack_size(shape.stack_bytes)
    ctx.eval(prelude)
    longest = max(shape.memory_bytes // _JS_VALUE_BYTES, _SHORTEST_ARRAY_GUARD)
    ctx.eval(f"__noodl.guardArrayLoops({longest})")
    api = {name: ctx.eval(f"__noodl.{name}") for name in API_NAMES}
    ctx.eval("__noodl.lockdown")(shape.locked)  # removes the global __noodl; freezes built-ins
    return ctx, api


class JsWorker:
    """A thread that runs jobs in order and keeps ready contexts between them."""

    def __init__(self, name: str, prelude: str) -> None:
        self.prelude = prelude
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = queue.SimpleQueue()
        # Contexts ready for a new run, per shape: taken on the loop thread, added on the worker's.
        self._ready: dict[ContextShape, deque[Ready]] = {}
        self._wanted: set[ContextShape] = set()  # shapes to keep ready (those runs asked for)
        # Each counter is written by one thread only (submitted: the loop's, finished: the worker's).
        self._submitted = 0
        self._finished = 0
        previous = threading.stack_size()
        try:
            threading.stack_size(_THREAD_STACK_BYTES)
            self._thread = threading.Thread(target=self._main, name=name, daemon=True)
            self._thread.start()
        finally:
            threading.stack_size(previous)

    def submit(self, job: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        self._submitted += 1
        self._jobs.put((job, future))
        return future

    @property
    def pending(self) -> int:
        """Jobs submitted and not finished yet."""
        return self._submitted - self._finished

    def want(self, shape: ContextShape) -> None:
        """Keep contexts of ``shape`` ready from now on (prepared when the worker is idle)."""
        if shape not in self._wanted:
            self._ready.setdefault(shape, deque())
            self._wanted.add(shape)
            self._jobs.put(None)  # wakes the worker to prepare them

    def take_ready(self, shape: ContextShape) -> Ready | None:
        """A ready context for a new run (any thread may take one), or None."""
        ready = self._ready.get(shape)
        try:
            return ready.pop() if ready else None  # the most recently used: its memory is warm
        except IndexError:
            return None

    def keep(self, shape: ContextShape, ready: Ready) -> None:
        """On this worker's thread: a clean context goes back to the ready ones, if room is left."""
        contexts = self._ready.setdefault(shape, deque())
        if len(contexts) < KEPT_CONTEXTS:
            contexts.append(ready)

    def _main(self) -> None:
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                if self._prepare_one():
                    continue
                item = self._jobs.get()
            if item is None:
                continue  # a wake-up: prepare contexts of a newly wanted shape
            job, future = item
            del item
            try:
                result = job()
            except BaseException as error:  # handed to the waiting run
                future.set_exception(error)
            else:
                future.set_result(result)
            self._finished += 1
            del job, future  # a job that dropped a context frees it here, on this thread

    def _prepare_one(self) -> bool:
        """Prepare one ready context of a shape that is short of them; False when none is."""
        for shape in tuple(self._wanted):
            ready = self._ready[shape]
            if len(ready) < WARM_CONTEXTS:
                ready.appendleft((*new_context(shape, self.prelude), set()))
                return True
        return False


class LoopHost:
    """Contexts made and used on the calling thread (the event loop's): jobs run at once, inline.

    For runs of functions whose scripts have always been quick: no round trip to a worker, but a
    script may hold the loop, so calls here run under the engine's stretch limit (see jsengine).
    """

    def __init__(self, prelude: str) -> None:
        self.prelude = prelude
        self._ready: dict[ContextShape, deque[Ready]] = {}
        self.pending = 0

    def submit(self, job: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(job())
        except BaseException as error:  # handed to the run, as a worker's job would
            future.set_exception(error)
        return future

    def want(self, shape: ContextShape) -> None:
        self._ready.setdefault(shape, deque())

    def take_ready(self, shape: ContextShape) -> Ready | None:
        ready = self._ready.get(shape)
        return ready.pop() if ready else None

    def keep(self, shape: ContextShape, ready: Ready) -> None:
        contexts = self._ready.setdefault(shape, deque())
        if len(contexts) < KEPT_CONTEXTS:
            contexts.append(ready)


class JsThreads:
    """The process's JavaScript workers (one per core unless configured); started on first use."""

    def __init__(self, count: int | None = None) -> None:
        self._count = count or _configured_threads()
        self._workers: list[JsWorker] = []
        self._lock = threading.Lock()
        self._hosts = threading.local()

    def context_for_new_run(self, shape: ContextShape) -> RunJs:
        """A context for a new run, on the worker with the fewest jobs waiting (a ready one if it has
        one; else the run's first job makes it there)."""
        workers = self._workers or self._start()
        best = min(workers, key=lambda worker: worker.pending)
        best.want(shape)
        return RunJs(best, shape, best.take_ready(shape))

    def prepare(self, shape: ContextShape) -> None:
        """Start the workers and have them make ready contexts of ``shape`` now, before runs ask."""
        for worker in self._workers or self._start():
            worker.want(shape)

    def context_here(self, shape: ContextShape) -> RunJs:
        """A context for a new run on the calling thread (see :class:`LoopHost`)."""
        host: LoopHost | None = getattr(self._hosts, "host", None)
        if host is None:
            host = self._hosts.host = LoopHost(read_prelude())
        host.want(shape)
        return RunJs(host, shape, host.take_ready(shape))

    def _start(self) -> list[JsWorker]:
        with self._lock:
            if not self._workers:
                prelude = read_prelude()
                self._workers = [JsWorker(f"noodl-js-{i}", prelude) for i in range(self._count)]
        return self._workers


def _configured_threads() -> int:
    configured = os.environ.get("NOODL_SIDECAR_JS_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, os.cpu_count() or 1)


JS_THREADS = JsThreads()
