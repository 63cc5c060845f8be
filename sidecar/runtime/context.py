"""One run's world: its node scope, model scope, update frames and settlement.

Run lifecycle: RUNNING → SETTLED (first Response, a rejection, or the timeout) → torn down.
Frames follow Noodl: an update is requested with ``call_soon`` (``setImmediate``); a frame makes up
to 10 passes over dirty nodes in the order they were flagged, then the after-update callbacks; work
queued with ``at_frame_end`` (script continuations, task creation) then runs, as microtasks do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from sidecar.runtime import answers
from sidecar.runtime.answers import FunctionResponse as FunctionResponse  # re-exported: where runs settle
from sidecar.runtime.answers import Outcome as Outcome
from sidecar.runtime.objects import ModelScope
from sidecar.runtime.recorder import Recorder
from sidecar.runtime.strand import Strand

if TYPE_CHECKING:
    from sidecar.runtime.node import Node
    from sidecar.runtime.services import RunServices

MAX_PASSES_PER_FRAME = 10
RELEASE_BATCH = 256
# Frames an answer of a worker may run at once (``RunContext.answered``) before the loop gets a turn.
MAX_FRAMES_ON_ANSWER = 20

log = structlog.get_logger()
# The reserved key of a step's outputs that holds its console lines (no port has this name).
CONSOLE_KEY = "__console"


class ScriptHost(Protocol):
    """A node whose script effects the bridge replays (Function, REST)."""

    id: str
    deleted: bool
    reported_as: str | None

    @property
    def type_name(self) -> str: ...

    def set_script_output(self, name: str, value: Any) -> None: ...

    def send_signal(self, name: str) -> None: ...


@dataclass(frozen=True, slots=True)
class NoodlRequest:
    """``headers`` with lower-case keys (as Node's http gives them to the real runner); raw ``body``."""

    headers: dict[str, str]
    body: str


class RunContext:
    def __init__(
        self,
        services: RunServices,
        run_id: str,
        function: str,
        request: NoodlRequest,
        recorder: Recorder | None,
    ) -> None:
        self.services = services
        self.run_id = run_id
        self.function = function
        self.request = request
        self.recorder = recorder
        # A test run's debugger (``sidecar.debugging.session.DebugSession``): pins, replays, breakpoints.
        # None for every production run, which then never meets a debug hook.
        self.debug: Any = None
        # The recorder hears of node work once the request enters the graph: the setup frame before it
        # only applies parameters and is no step of the run (failures in it are still reported).
        self.step_recorder: Recorder | None = None
        self.models = ModelScope()
        self.loop = asyncio.get_running_loop()
        self.result: asyncio.Future[FunctionResponse] = self.loop.create_future()
        # Every piece of the run's work runs on this strand, so it can pause while a script runs.
        self.strand = Strand(self.loop)
        self.nodes: list[Node] = []
        self.js_state: Any = None  # owned by the JS engine for this run
        self.user: Any = None  # the session user once the Request node authenticated one
        self.config: Mapping[str, Any] | None = None  # config parameters, fetched before the run
        self.record_classes: dict[str, str] = {}  # object id → collection, for records read or written
        self.script_nodes: dict[str, ScriptHost] = {}  # script nodes by their key in the JS bridge
        self._dirty: list[Node] = []
        # Pulls and dirty flags nested right now (see node.MAX_NESTING).
        self.nesting = 0
        self._after_update: list[Callable[[], None]] = []
        self._frame_requested = False
        self._frame_handle: asyncio.Handle | None = None
        self._in_frame = False
        self._frame_end: list[Callable[[], None]] = []
        # Work this run handed to the event loop other than frames (tasks, callbacks). While there is none,
        # the runtime may run requested frames at once: nothing of this run could come between.
        self.deferred = 0
        self.frame_number = 0
        self._tasks: set[asyncio.Future[Any]] = set()
        self._task_owners: dict[asyncio.Future[Any], str] = {}  # pending tasks a node said it waits on
        # The latest expected work that can wait for its end on the loop's thread (``wait_briefly``).
        self._waiter: tuple[asyncio.Future[Any], Callable[[asyncio.Future[Any]], None]] | None = None
        # Error scopes (Workflow Try/Catch): a node listed here hands its failures to the handler.
        # The handler gets (message, node id, stack).
        self.error_scopes: dict[object, Callable[[str, str, str], None]] = {}
        self._released = 0
        self.failures = 0  # node failures reported so far
        self.deadline: float | None = None  # loop time of the run's time limit, when it has one

    @property
    def settled(self) -> bool:
        return self.result.done()

    def time_left(self) -> float | None:
        """Seconds until the run's time limit (None: no limit), for work that takes its own timeout."""
        return None if self.deadline is None else self.deadline - self.loop.time()

    def holds_only_nodes(self) -> bool:
        """Nothing of this run is pending or kept besides its nodes (and their registry as script
        hosts): no frame or loop work, objects, script state, user, failure or answer. A scope
        template copies such a run's nodes alone."""
        pending = self._dirty or self._after_update or self._frame_end or self._frame_requested
        kept = self.models.all() or self.error_scopes or self.record_classes
        return not (
            pending
            or kept
            or self.settled
            or self.deferred
            or self._tasks
            or self.failures
            or not self.services.js.holds_nothing(self)
            or self.user is not None
        )

    # ---- frames ------------------------------------------------------------------------------------
    def node_is_dirty(self, node: Node) -> None:
        self._dirty.append(node)
        if not self._frame_requested and not self._in_frame:  # request_frame's own first checks
            self.request_frame()

    def after_update(self, callback: Callable[[], None]) -> None:
        self._after_update.append(callback)
        self.request_frame()

    def request_frame(self) -> None:
        # Inside a frame the passes pick up new dirty nodes themselves; the frame's end asks again if needed.
        if not self._frame_requested and not self._in_frame and not self.settled:
            self._frame_requested = True
            self._frame_handle = self.loop.call_soon(self.strand.run, self._run_frame)

    def at_frame_end(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the current frame ends, like a microtask queued during it."""
        if self._in_frame:
            self._frame_end.append(callback)
        else:
            self.call_soon(callback)

    def call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        """Run ``callback`` on the loop's next turn, after the frames already requested."""
        self.deferred += 1
        self.loop.call_soon(self.strand.run, callback, *args)

    def run_frames_now(self, limit: int) -> None:
        """Run up to ``limit`` requested frames now rather than on the loop's next turns, while this run
        has handed nothing else to the loop: the run's own order of work is then unchanged, and a short
        run settles without waiting for the loop at all (two turns fewer per call)."""
        for _ in range(limit):
            if not self._frame_requested or self.deferred or self.settled or self._frame_handle is None:
                return
            self._frame_handle.cancel()
            self._run_frame()

    def _run_frame(self) -> None:
        self._frame_requested = False
        self.frame_number += 1
        self._in_frame = True
        try:
            self._passes()
        finally:
            self._in_frame = False
        while self._frame_end and not self.settled:
            callbacks, self._frame_end = self._frame_end, []
            for callback in callbacks:
                if not self.settled:
                    callback()
        if self._dirty or self._after_update:
            self.request_frame()

    def _passes(self) -> None:
        for _ in range(MAX_PASSES_PER_FRAME):
            if self.settled:
                return
            nodes, self._dirty = self._dirty, []
            for node in nodes:
                if node.deleted:
                    continue
                try:
                    node.update()
                except Exception as error:  # a node failing is logged; the pass goes on
                    self._node_failed(node, error)
            callbacks, self._after_update = self._after_update, []
            for callback in callbacks:
                callback()
            if not self._dirty and not self._after_update:
                break

    def _node_failed(self, node: Node, error: Exception) -> None:
        log.warning("node update failed", node_id=node.id, node_type=node.type_name, error=repr(error))
        self.report_node_error(node, repr(error))

    def report_node_error(
        self, node: Node | ScriptHost, message: str, own_message: str | None = None
    ) -> bool:
        """Record a node's failure; True when an error scope (Try/Catch) took it over.

        ``message`` is the whole text (a script error's with its stack); ``own_message``, when given, is
        the error's own message (``err.message``), which the scope hands on with ``message`` as stack."""
        self.failures += 1
        if self.recorder is not None:
            self.recorder.node_failed(self.run_id, node.reported_as or node.id, node.type_name, message)
        handler = self.error_scopes.get(node)
        if handler is None:
            return False
        if own_message is None:
            handler(message, node.id, message)
        else:
            handler(own_message, node.id, message)
        return True

    def note_cyclic(self, node: Node) -> None:
        """The node stops for this frame and continues in the next one."""
        log.warning("cyclic loop detected", node_id=node.id, node_type=node.type_name)
        self.call_soon(self._resume_cyclic, node)
        self.request_frame()

    def _resume_cyclic(self, node: Node) -> None:
        if not node.deleted and not self.settled:
            self.node_is_dirty(node)

    # ---- async work started by nodes ------------------------------------------------------------------
    def spawn(
        self,
        awaitable: asyncio.Future[Any] | Any,
        done: Callable[[Any, BaseException | None], None],
        *,
        owner: str | None = None,
    ) -> None:
        """Run node work (store calls) off the frame; ``done`` runs unless the run has settled.
        ``owner``: the id of the node waiting on it (what a cancelled run reports as at work)."""
        self.deferred += 1
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        if owner is not None:
            self._task_owners[task] = owner

        def finished(fut: asyncio.Future[Any]) -> None:
            self._tasks.discard(fut)
            self._task_owners.pop(fut, None)
            if self.settled or fut.cancelled():
                return
            error = fut.exception()
            self.strand.run(done, None if error else fut.result(), error)

        task.add_done_callback(finished)

    def expect(
        self,
        future: asyncio.Future[Any],
        owner: str | None = None,
        wait: Callable[[asyncio.Future[Any]], None] | None = None,
    ) -> None:
        """Node work whose owner reports its end through ``answered`` in the loop turn it ends (a
        Python call), rather than through a done callback a turn later; cancelled with the run.
        ``wait(future)``: waits briefly on the loop's thread for its end (``wait_briefly``)."""
        self._tasks.add(future)
        if owner is not None:
            self._task_owners[future] = owner
        if wait is not None:
            self._waiter = (future, wait)

    def wait_briefly(self) -> None:
        """Before the run's task yields to the loop: the latest expected work that can wait on the
        loop's thread (a Python call) waits there briefly for its end, while the loop has nothing else
        to do. An answer that comes in that time continues the run now, in a piece of its work as the
        loop's callback would, so a short run settles without turns of the loop (the answer's and the
        task's wake-up); a run that goes on to another such call waits for that one in turn. It runs
        outside the run's pieces of work: a piece that pauses (for a script) leaves no wait behind."""
        while self._waiter is not None and not self.settled:
            future, wait = self._waiter
            self._waiter = None
            if future in self._tasks:
                wait(future)

    def answered(
        self, done: Callable[[Any, BaseException | None], None], future: asyncio.Future[Any]
    ) -> None:
        """``future`` (from ``expect``) is done: ``done(result, error)`` runs now as a piece of the run,
        and the frames it requested run at once while the run handed nothing else to the loop, so a run
        waiting only on this answer goes on in the turn the answer was read."""
        self._tasks.discard(future)
        self._task_owners.pop(future, None)
        if self.settled or future.cancelled():
            return
        error = future.exception()
        self.strand.run(self._go_on, done, None if error else future.result(), error)

    def _go_on(self, done: Callable[[Any, BaseException | None], None], result: Any, error: Any) -> None:
        done(result, error)
        self.run_frames_now(MAX_FRAMES_ON_ANSWER)

    def waiting_node(self) -> str | None:
        """The node of the latest pending task that names one (a Wait's timer, a store or HTTP call)."""
        return next(reversed(self._task_owners.values()), None)

    def node_released(self) -> None:
        """A child component was deleted mid-run (For Each, Try/Catch): now and then drop deleted
        nodes from the registry, so long loops free their children instead of keeping every one."""
        self._released += 1
        if self._released >= RELEASE_BATCH:
            self._released = 0
            self.nodes = [node for node in self.nodes if not node.deleted]

    # ---- settlement -----------------------------------------------------------------------------------
    def settle(self, response: FunctionResponse) -> bool:
        """First settlement wins; tears the run down before delivering."""
        if self.settled:
            return False
        self.teardown()
        self.result.set_result(response)
        return True

    def reject(self, message: str) -> bool:
        """End the run as a rejection (``answers.rejected``: 500 ``{"error": message}``)."""
        log.warning("function run rejected", function=self.function, error=message)
        return self.settle(answers.rejected(message))

    def teardown(self) -> None:
        for node in self.nodes:
            if not node.deleted:  # most were deleted with their instance already
                node.delete()
        self.nodes.clear()
        self._dirty.clear()
        self._after_update.clear()
        self._frame_end.clear()
        self.models.clear()
        self.script_nodes.clear()
        self.error_scopes.clear()
        for task in self._tasks:
            task.cancel()
        self.services.js.release_run(self)

    # ---- recorder plumbing ----------------------------------------------------------------------------
    def script_log(self, node: Any, level: str, time_ms: int, text: str) -> None:
        """A script's console line: to structlog at debug, and into the step of ``node`` when the run
        is recorded, as ``{level, time, text}`` in the step's outputs under ``CONSOLE_KEY``."""
        node_id = getattr(node, "id", None)
        log.debug(
            "script console",
            function=self.function,
            run_id=self.run_id,
            node_id=node_id,
            level=level,
            text=text,
        )
        if self.step_recorder is None or node is None or node.reported_as is not None:
            return
        line = {"level": level, "time": time_ms, "text": text}
        recorded: dict[str, Any] | None = node._recorded_outputs
        if recorded is not None:  # within the node's step
            recorded.setdefault(CONSOLE_KEY, []).append(line)
            return
        # After an await, outside any update of the node: the line is a step of the node on its own.
        self.note_node_start(node, {})
        node._recorded_outputs[CONSOLE_KEY] = [line]
        self.note_node_end(node)

    def start_recording_steps(self) -> None:
        self.step_recorder = self.recorder

    def note_node_start(self, node: Node, inputs: dict[str, Any]) -> None:
        """A step of ``node`` outside its update (the request, a workflow node's own work) begins."""
        assert self.step_recorder is not None
        node._recorded_outputs = {}
        self.step_recorder.node_started(self.run_id, node.id, node.type_name, inputs)

    def note_output(self, node: Node, name: str, value: Any) -> None:
        recorded = node._recorded_outputs
        if recorded is not None:
            recorded[name] = value

    def note_node_end(self, node: Node) -> None:
        assert self.step_recorder is not None
        outputs, node._recorded_outputs = node._recorded_outputs or {}, None
        self.step_recorder.node_finished(self.run_id, node.id, node.type_name, outputs)
