"""One test run under the debugger: pinned node outputs, replayed upstream outputs, breakpoints.

A production run (HTTP, webhook, trigger) never carries a session: ``RunContext.debug`` stays None and
the runtime's only cost is that one check per run. A test run's session (``sidecar.debugging.testrun``)
is attached once its scope is built (``Runtime._start``): the canvas nodes it concerns change class to a
subclass of their own type that adds the debugger's behaviour (:func:`debug_class`), so the other nodes,
and every node of other runs, keep their plain code path.

- **Pinned** node (``pins``: node id → ``{port: value}``): once the request entered the graph, the node
  takes its inputs but does not run; when triggered (the rising edge of a connected signal input, or
  any input for a node without one) it sends the pinned values instead (signals by name, ``true``).
- **Replayed** node (``replays``: node id → its recorded steps, grouped per update that took inputs):
  the k-th update that takes inputs sends what the k-th recorded update sent (with the late outputs
  that followed it), so the nodes downstream see the past run's values in the past run's order.
- Both mark their step in history with ``__debug: "pinned" | "replayed"`` among its outputs.
- **Breakpoint** (``breakpoints``; every canvas node in a run that has any, so *step* can stop anywhere):
  before an update that has inputs queued, the run pauses: its strand gives the loop back (no thread
  is held, ``sidecar.runtime.strand``), the run's timeout stops counting, and ``execution:paused``
  reports the node and its pending inputs. ``resume(step=False)`` continues to the next breakpoint,
  ``resume(step=True)`` stops before the next node that runs; cancelling settles the run as ever and
  wakes the paused piece, which then finds its node deleted. A run left paused for
  :data:`PAUSE_LIMIT_SECONDS` is cancelled the same way.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sidecar.errors import ExecutionNotPausedError

if TYPE_CHECKING:
    from sidecar.runtime.context import RunContext
    from sidecar.runtime.node import Node

# A paused run nobody continues (the editor closed) is cancelled after this long, so it never holds
# its caller and its memory for ever: its own timeout does not run while it is paused.
PAUSE_LIMIT_SECONDS = 600.0
DEBUG_KEY = "__debug"  # the reserved output key that marks a pinned or replayed step (no port has it)
PINNED = "pinned"
REPLAYED = "replayed"
Outputs = Mapping[str, Any]


@dataclass(frozen=True)
class DebugPlan:
    """What a test run does differently; validated by the caller (``sidecar.debugging.testrun``)."""

    pins: Mapping[str, Outputs] = field(default_factory=dict)
    replays: Mapping[str, Sequence[Sequence[Outputs]]] = field(default_factory=dict)
    breakpoints: frozenset[str] = frozenset()

    def concerns(self, node_id: str) -> bool:
        return bool(self.breakpoints) or node_id in self.pins or node_id in self.replays


class PausableTimer:
    """The run's timeout, stopped while the run is paused at a breakpoint."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: float, fire: Callable[[], None]) -> None:
        self._loop = loop
        self._fire = fire
        self._remaining = limit
        self._deadline = loop.time() + limit
        self._handle: asyncio.TimerHandle | None = loop.call_later(limit, fire)
        self._cancelled = False

    def suspend(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
            self._remaining = max(0.0, self._deadline - self._loop.time())

    def resume(self) -> None:
        if self._handle is None and not self._cancelled:
            self._deadline = self._loop.time() + self._remaining
            self._handle = self._loop.call_later(self._remaining, self._fire)

    def cancel(self) -> None:
        self._cancelled = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class DebugSession:
    """The debugger's state for one run (created per run, never shared)."""

    def __init__(self, plan: DebugPlan, on_pause: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.plan = plan
        self.on_pause = on_pause
        self.ctx: RunContext | None = None
        self.live = False  # the request entered the graph: before it, nodes only apply parameters
        self.stepping = False
        self.paused_at: dict[str, Any] | None = None
        self.pauses: list[str] = []  # node ids paused before, in order (kept small: one per pause)
        self.passing: Node | None = None  # the node let through after its pause (see _debug_update)
        self._pause: concurrent.futures.Future[None] | None = None
        self._timer: PausableTimer | None = None
        self._updates: dict[str, int] = {}  # replayed node id → its updates that took inputs so far

    # ---- wiring into the run (Runtime.run / Runtime._start) ------------------------------------------
    def timeout(self, ctx: RunContext, limit: float, fire: Callable[[], None]) -> PausableTimer:
        self.ctx = ctx
        self._timer = PausableTimer(ctx.loop, limit, fire)
        return self._timer

    def attach(self, ctx: RunContext, nodes: Mapping[str, Node]) -> None:
        """Give the canvas nodes this session concerns their debug class (the scope was just built)."""
        self.ctx = ctx
        for node_id, node in nodes.items():
            if self.plan.concerns(node_id):
                node.__class__ = debug_class(type(node))

    def start(self) -> None:
        self.live = True

    def finish(self) -> None:
        """The run ended (answered, timed out, cancelled): wake a paused piece so it unwinds."""
        if self._timer is not None:
            self._timer.cancel()
        pause = self._pause
        if pause is not None and not pause.done():
            pause.set_result(None)

    # ---- pinned and replayed nodes -------------------------------------------------------------------
    def pinned_update(self, node: Node, rising_signal: bool) -> None:
        """A pinned or replayed node took inputs in an update: send what it stands for."""
        outputs = self.plan.pins.get(node.id)
        if outputs is not None:
            if rising_signal or not _has_signal_inputs(node):
                _mark(node, PINNED)
                _send(node, outputs)
            return
        groups = self.plan.replays.get(node.id)
        if groups is None:
            return
        index = self._updates.get(node.id, 0)
        self._updates[node.id] = index + 1
        _mark(node, REPLAYED)
        if index < len(groups):
            for sent in groups[index]:
                _send(node, sent)

    # ---- breakpoints ---------------------------------------------------------------------------------
    def should_pause(self, node: Node) -> bool:
        ctx = self.ctx
        if not self.live or ctx is None or ctx.settled or self.passing is node:
            return False
        if not (self.stepping or node.id in self.plan.breakpoints):
            return False
        return any(node._queue.values()) and ctx.strand.inside()

    def pause_before(self, node: Node) -> None:
        """Pause the run's strand until :meth:`resume` (or the run's end); the loop goes on meanwhile."""
        from sidecar.debugging.pin import preview

        ctx = self.ctx
        assert ctx is not None
        pending = {name: preview(values[0]) for name, values in node._queue.items() if values}  # next taken
        self.paused_at = {
            "nodeId": node.id,
            "nodeType": node.type_name,
            "inputs": pending,
            "pausedAt": int(time.time() * 1000),
            "reason": "breakpoint" if node.id in self.plan.breakpoints else "step",
        }
        self.pauses.append(node.id)
        pause = self._pause = concurrent.futures.Future()
        if self._timer is not None:
            self._timer.suspend()
        if self.on_pause is not None:
            self.on_pause(dict(self.paused_at))
        limit = ctx.loop.call_later(PAUSE_LIMIT_SECONDS, self._abandoned, ctx, node.id)
        ctx.strand.pause_until(pause)
        limit.cancel()
        self._pause = None
        self.paused_at = None
        self.passing = node
        if self._timer is not None and not ctx.settled:
            self._timer.resume()

    @staticmethod
    def _abandoned(ctx: RunContext, node_id: str) -> None:
        from sidecar.runtime import answers

        ctx.settle(answers.cancelled(ctx.function, node_id))  # Runtime.run's end wakes the paused piece

    def resume(self, execution_id: str, step: bool) -> dict[str, Any]:
        """Continue a paused run (``step``: stop again before the next node that runs)."""
        pause, at = self._pause, self.paused_at
        if pause is None or pause.done() or at is None:
            raise ExecutionNotPausedError(execution_id)
        self.stepping = step
        pause.set_result(None)
        return {"resumed": True, "executionId": execution_id, "nodeId": at["nodeId"], "step": step}


def _has_signal_inputs(node: Node) -> bool:
    return any(
        spec.on_signal is not None and node.is_input_connected(name) for name, spec in node._inputs.items()
    )


def _mark(node: Node, kind: str) -> None:
    recorded = node._recorded_outputs
    if recorded is not None:
        recorded[DEBUG_KEY] = kind


def _send(node: Node, outputs: Outputs) -> None:
    """Send recorded or pinned port values: signals as signals, values to every connection."""
    for name, value in outputs.items():
        if name.startswith("__"):  # console lines, debug marks: no ports
            continue
        spec = node.get_output(name)
        if spec is None:
            continue
        if spec.type == "signal":
            if value is True:
                node.send_signal(name)
            continue
        recorded = node._recorded_outputs
        if recorded is not None:
            recorded[name] = value
        connections = node._out_conns.get(name)
        if connections:
            node._push(name, value, connections)


_CLASSES: dict[type[Any], type[Any]] = {}
_MADE: set[type[Any]] = set()


def debug_class(base: type[Node]) -> type[Node]:
    """``base`` with the debugger's update and drain (one class per node type, made on first use).

    Same layout as ``base`` (no slots of its own), so a built node may switch to it; the port tables
    stay ``base``'s shared ones (``Node.register_input`` copies them on the first dynamic port by
    identity)."""
    if base in _MADE:
        return base
    made = _CLASSES.get(base)
    if made is not None:
        return made
    from sidecar.runtime.values import js_truthy

    base_update = base.update
    base_update_steps = base.update_steps
    base_drain = base._drain

    def update(self: Node) -> None:
        session: DebugSession = self.ctx.debug
        if self._dirty and not self._updating and not self.deleted and session.should_pause(self):
            session.pause_before(self)
            if self.deleted:  # cancelled while paused
                return
        try:
            base_update(self)
        finally:
            if session.passing is self:
                session.passing = None

    def update_steps(self: Node) -> Generator[Node, None, None]:
        session: DebugSession = self.ctx.debug
        if self._dirty and not self._updating and not self.deleted and session.should_pause(self):
            session.pause_before(self)
            if self.deleted:
                return
        yield from base_update_steps(self)

    def _drain(self: Node) -> None:
        session: DebugSession = self.ctx.debug
        if not session.live or not (self.id in session.plan.pins or self.id in session.plan.replays):
            base_drain(self)
            return
        took = rising = False
        for name, values in self._queue.items():
            if not values:
                continue
            took = True
            spec = self.get_input(name)
            for value in values:
                self.input_values[name] = value
                if spec is not None and spec.on_signal is not None:
                    now = js_truthy(value)
                    rising = rising or (now and not self._edges.get(name, False))
                    self._edges[name] = now
            values.clear()
        if self._after_inputs:
            callbacks, self._after_inputs = self._after_inputs, []
            for callback in callbacks:
                if not self.deleted:
                    callback()
        if took and not self.deleted:
            session.pinned_update(self, rising)

    made = type(
        f"Debug{base.__name__}",
        (base,),
        {"__slots__": (), "update": update, "update_steps": update_steps, "_drain": _drain},
    )
    made._static_inputs = base._static_inputs  # __init_subclass__ made copies: keep the shared ones
    made._static_outputs = base._static_outputs
    _CLASSES[base] = made
    _MADE.add(made)
    return made
