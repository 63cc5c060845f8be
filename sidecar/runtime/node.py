"""The node base class: ports, input queues, dirty flags and the Noodl update rules.

Lifecycle of a node: created → parameters queued → connections made → updated whenever
dirty (pull upstream, drain queues round-robin, after-inputs callbacks) → deleted at teardown.
Values flow by pushing: an output flagged dirty reads its getter and queues the value on every
connected input; a signal queues ``True`` then ``False``. ``undefined`` is never sent.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from operator import itemgetter
from typing import TYPE_CHECKING, Any, ClassVar

from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.values import UNDEFINED, js_truthy

if TYPE_CHECKING:
    from sidecar.runtime.context import RunContext
    from sidecar.runtime.export import NodeDef
    from sidecar.runtime.recorder import Recorder

MAX_UPDATE_ITERATIONS = 100
MAX_VALUES_PER_OUTPUT = 500
# Noodl pulls upstream nodes and flags downstream ones recursively, one nested call per node, which
# JavaScript's deep stack absorbs; Python's recursion limit (about 1,000 frames) would stop a chain of
# a few hundred nodes. Past this many nested pulls and flags, a walk goes on iteratively in the same
# order (see _flag_downstream_iteratively and _drive).
MAX_NESTING = 100
# An update as a generator: it yields each node to update before it goes on.
UpdateSteps = Generator["Node", None, None]


class Node:
    """Base of every node type. Subclasses declare ``INPUTS``/``OUTPUTS`` and editor metadata."""

    TYPE: ClassVar[str] = ""
    DISPLAY_NAME: ClassVar[str] = ""
    CATEGORY: ClassVar[str] = ""
    DOCS: ClassVar[str] = ""
    # The workflow language this node belongs to ("javascript", "python"), or None for nodes of both
    # (see runtime.language): a workflow of one language may not hold the other's nodes.
    LANGUAGE: ClassVar[str | None] = None
    INPUTS: ClassVar[tuple[InputSpec, ...]] = ()
    OUTPUTS: ClassVar[tuple[OutputSpec, ...]] = ()
    _static_inputs: ClassVar[dict[str, InputSpec]] = {}  # never mutated: shared by every instance
    _static_outputs: ClassVar[dict[str, OutputSpec]] = {}
    # True when make_dynamic_input/output give the same specs for the same node definition, none of
    # them tied to this node: a later build of the node may then start with the ports an earlier one
    # registered (see component.populate).
    SHARES_DYNAMIC_PORTS: ClassVar[bool] = False
    # True when the node's state after its scope's setup frame depends only on the export and the
    # nodes wired to it (no clock, randomness, run data or script results): a function whose nodes
    # are all such starts later runs from a copy of its first run's scope (see scope_template).
    SAME_EVERY_RUN: ClassVar[bool] = False
    # True when the class keeps the base ``_begin_update``/``_end_update``: ``update`` then does their
    # work inline when no step is recorded (two calls fewer on every update of every node).
    _plain_updates: ClassVar[bool] = True
    # The canvas node this node's failures are reported under when it is none itself (a component
    # instance a For Each, Try/Catch or Retry node creates per item); such a node's updates are no steps.
    reported_as: str | None = None
    # Slots, not an instance dict: the base methods run on every node type, and an attribute read at
    # a call site that sees many types is far cheaper through a slot than through a dict lookup.
    __slots__ = (
        "_after_inputs",
        "_cyclic",
        "_dirty",
        "_edges",
        "_frame",
        "_input_sources",
        "_inputs",
        "_iterations",
        "_out_conns",
        "_outputs",
        "_queue",
        "_recorded_outputs",
        "_sent_counts",
        "_sent_frame",
        "_signals_sent",
        "_updated_once",
        "_updating",
        "_upstream",
        "ctx",
        "deleted",
        "dirty_flagging",
        "id",
        "input_values",
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._static_inputs = {spec.name: spec for spec in cls.INPUTS}
        cls._static_outputs = {spec.name: spec for spec in cls.OUTPUTS}
        cls._plain_updates = cls._begin_update is Node._begin_update and cls._end_update is Node._end_update

    def __init__(self, ctx: RunContext, node_id: str) -> None:
        self.ctx = ctx
        self.id = node_id
        self.deleted = False
        # Static and dynamic ports in one mapping (static first), so a lookup is one dict probe. It
        # starts as the class's shared static mapping and is copied on the first dynamic port.
        self._inputs: dict[str, InputSpec] = self._static_inputs
        self._outputs: dict[str, OutputSpec] = self._static_outputs
        self._out_conns: dict[str, list[tuple[Node, str]]] = {}
        self._upstream: list[Node] = []
        self._input_sources: dict[str, list[tuple[Node, str]]] = {}
        self._queue: dict[str, list[Any]] = {}
        self._after_inputs: list[Callable[[], None]] = []
        self._edges: dict[str, bool] = {}
        self.input_values: dict[str, Any] = {}
        self._signals_sent: set[str] = set()
        self._dirty = False
        self._updating = False
        self._updated_once = False
        self._frame = -1
        self._iterations = 0
        self._sent_frame = -1
        self._sent_counts: dict[str, int] = {}
        self._cyclic = False
        # While a recorded run's step of this node is open: the outputs it sent, for the recorder.
        self._recorded_outputs: dict[str, Any] | None = None
        # False while the component is being built: nodes only join the dirty list once all
        # connections exist (Noodl's ``updateOnDirtyFlagging``).
        self.dirty_flagging = False

    @property
    def type_name(self) -> str:
        return self.TYPE

    def copyable_after_setup(self) -> bool:
        """Whether this node, as the setup frame left it, is what every run's setup would give."""
        return self.SAME_EVERY_RUN

    def setup(self, node_def: NodeDef) -> None:
        """Hook run once after creation, before parameters; e.g. for exported instance ports."""

    # ---- ports -------------------------------------------------------------------------------
    def get_input(self, name: str) -> InputSpec | None:
        spec = self._inputs.get(name)
        if spec is None:
            spec = self.make_dynamic_input(name)
            if spec is not None:
                self.register_input(spec)
        return spec

    def get_output(self, name: str) -> OutputSpec | None:
        spec = self._outputs.get(name)
        if spec is None:
            spec = self.make_dynamic_output(name)
            if spec is not None:
                self.register_output(spec)
        return spec

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        """Register an input on demand; ``None`` when this type cannot have it."""
        return None

    def make_dynamic_output(self, name: str) -> OutputSpec | None:
        return None

    def register_input(self, spec: InputSpec) -> None:
        """Add a dynamic input; a static input of the same name keeps precedence."""
        if spec.name in self._static_inputs:
            return
        if self._inputs is self._static_inputs:
            self._inputs = dict(self._static_inputs)
        self._inputs[spec.name] = spec

    def register_output(self, spec: OutputSpec) -> None:
        if spec.name in self._static_outputs:
            return
        if self._outputs is self._static_outputs:
            self._outputs = dict(self._static_outputs)
        self._outputs[spec.name] = spec

    def has_input(self, name: str) -> bool:
        return name in self._inputs

    def input_names(self) -> list[str]:
        return list(self._inputs)

    def has_output(self, name: str) -> bool:
        return name in self._outputs

    def is_input_connected(self, name: str) -> bool:
        """Connected to a real source; a Component Inputs port counts only if the instance's is."""
        for source, port in self._input_sources.get(name, ()):  # noqa: SIM110 - no generator on a hot path
            if source.feeds_from_connection(port):
                return True
        return False

    def feeds_from_connection(self, output: str) -> bool:
        return True

    def has_output_connections(self, name: str) -> bool:
        return bool(self._out_conns.get(name))

    def output_value(self, name: str) -> Any:
        spec = self._outputs.get(name) or self.get_output(name)
        if spec is None or spec.get is None:
            return UNDEFINED
        return spec.get(self)

    # ---- wiring --------------------------------------------------------------------------------
    def connect_output(self, spec: OutputSpec, target: Node, target_input: str) -> None:
        """Wire the output ``spec`` (one of this node's) to ``target``; deliver the current value at
        once unless undefined."""
        output = spec.name
        self._out_conns.setdefault(output, []).append((target, target_input))
        target._input_sources.setdefault(target_input, []).append((self, output))
        target._upstream.append(self)
        if output in self._signals_sent:
            target.queue_input(target_input, True)
            target.queue_input(target_input, False)
        elif spec.get is not None:  # output_value, inlined
            value = spec.get(self)
            if value is not UNDEFINED:
                target.queue_input(target_input, value)
        if not target._dirty and not target.deleted:  # flag_dirty, inlined: every build wires many
            target._dirty = True
            if target.dirty_flagging:
                target.perform_dirty_update()

    def apply_parameters(self, parameters: Mapping[str, Any]) -> None:
        """Queue parameters by input priority, highest first, stable; unknown inputs are dropped."""
        if not parameters:  # most nodes of a component have none
            return
        known: list[tuple[int, str, Any]] = []
        for name, value in parameters.items():
            spec = self.get_input(name)
            if spec is not None:
                known.append((spec.priority, name, value))
        known.sort(key=itemgetter(0), reverse=True)  # stable: equal priorities keep their order
        for _priority, name, value in known:
            self.queue_input(name, value)

    # ---- pushing values --------------------------------------------------------------------------
    def queue_input(self, name: str, value: Any) -> None:
        queue = self._queue.get(name)
        if queue is None:
            self._queue[name] = [value]
        else:
            # Before the first update the last value wins, except that a pending signal
            # (a queue starting with True) keeps its True/False pair.
            if not self._updated_once and queue and queue[0] is not True:
                queue.clear()
            queue.append(value)
        if not self._dirty and not self.deleted:  # flag_dirty, inlined on the hottest path
            self._dirty = True
            if self.dirty_flagging:
                self.perform_dirty_update()

    def flag_output_dirty(self, name: str) -> None:
        connections = self._out_conns.get(name)
        recorder = self.ctx.step_recorder
        if not connections and recorder is None:
            return
        spec = self._outputs.get(name) or self.get_output(name)  # output_value, inlined: hot path
        if spec is None or spec.get is None:
            return
        value = spec.get(self)
        if value is UNDEFINED:
            return
        recorded = self._recorded_outputs
        if recorded is not None:
            recorded[name] = value
        if connections:
            self._push(name, value, connections)

    def send_output(self, name: str, value: Any) -> None:
        """``flag_output_dirty`` for a caller that knows the value the output's getter returns.

        Component boundaries forward every value this way; skipping the getter lookup and call
        matters there. With a recorder attached the ordinary path runs, so recording is unchanged.
        """
        connections = self._out_conns.get(name)
        if self.ctx.step_recorder is not None:
            self.flag_output_dirty(name)
        elif connections and value is not UNDEFINED:
            self._push(name, value, connections)

    def _push(self, name: str, value: Any, connections: list[tuple[Node, str]]) -> None:
        """Queue ``value`` on every connected input, counting it for the cycle check."""
        if self._sent_frame != self._frame:  # _count_sent, inlined: hot path
            self._sent_frame = self._frame
            self._sent_counts = {}
        counts = self._sent_counts
        counts[name] = count = counts.get(name, -1) + 1
        if count > MAX_VALUES_PER_OUTPUT:
            self._cyclic = True
        for target, port in connections:
            target.queue_input(port, value)

    def send_signal(self, name: str) -> None:
        recorded = self._recorded_outputs
        if recorded is not None:
            recorded[name] = True
        connections = self._out_conns.get(name)
        if connections:
            self._count_sent(name, 2)
            for target, port in connections:
                target.queue_input(port, True)
                target.queue_input(port, False)
        # Remembered until this node's inputs settle, so a connection made meanwhile replays it.
        # One pending clean-up covers every signal sent before it runs, as Noodl's per-signal ones do.
        sent = self._signals_sent
        if not sent:
            self._after_inputs.append(sent.clear)
        sent.add(name)
        if not self._dirty and not self.deleted:  # flag_dirty, inlined
            self._dirty = True
            if self.dirty_flagging:
                self.perform_dirty_update()

    def _count_sent(self, name: str, values: int) -> None:
        """Cycle check: more than 500 values on one output within a frame marks the node cyclic."""
        if self._sent_frame != self._frame:
            self._sent_frame = self._frame
            self._sent_counts = {}
        count = self._sent_counts.get(name, -1) + values
        self._sent_counts[name] = count
        if count > MAX_VALUES_PER_OUTPUT:
            self._cyclic = True

    def schedule_after_inputs(self, callback: Callable[[], None]) -> None:
        self._after_inputs.append(callback)
        if not self._dirty and not self.deleted:  # flag_dirty, inlined: most nodes schedule every update
            self._dirty = True
            if self.dirty_flagging:
                self.perform_dirty_update()

    def flag_dirty(self) -> None:
        if self._dirty or self.deleted:
            return
        self._dirty = True
        if self.dirty_flagging:
            self.perform_dirty_update()

    def perform_dirty_update(self) -> None:
        """Put this node on the frame's dirty list and flag everything downstream dirty too."""
        ctx = self.ctx
        ctx._dirty.append(self)  # ctx.node_is_dirty, inlined: hot path
        if not ctx._frame_requested and not ctx._in_frame:
            ctx.request_frame()
        if not self._out_conns:  # nothing downstream to flag (a Response, a Component Outputs, …)
            return
        if ctx.nesting > MAX_NESTING:
            _flag_downstream_iteratively(self)
            return
        ctx.nesting += 1
        try:
            for connections in self._out_conns.values():
                for target, _port in connections:
                    if not target._dirty and not target.deleted:  # flag_dirty, inlined: most are dirty
                        target._dirty = True
                        if target.dirty_flagging:
                            target.perform_dirty_update()
        finally:
            ctx.nesting -= 1

    def dirty_followers(self) -> list[Node]:
        """The nodes ``perform_dirty_update`` flags after this one, in its order."""
        return [target for connections in self._out_conns.values() for target, _port in connections]

    # ---- the update step --------------------------------------------------------------------
    def update(self) -> None:
        if self._updating or not self._dirty or self.deleted:
            return
        ctx = self.ctx
        if ctx.nesting >= MAX_NESTING:
            _drive(self.update_steps())
            return
        if self._plain_updates and ctx.step_recorder is None:  # _begin_update, inlined
            if self._frame != ctx.frame_number:
                self._frame = ctx.frame_number
                self._iterations = 0
                self._cyclic = False
            self._updating = True
            recorder = None
        else:
            recorder = self._begin_update()
        ctx.nesting += 1
        try:
            while self._dirty and not self._cyclic and not self.deleted:
                # Pull: update every node connected to an input first (a clean one would return at once).
                for upstream in self._upstream:
                    if upstream._dirty:
                        upstream.update()
                self._dirty = False  # _drain_pass, inlined: every update of every node
                self._drain()
                self._iterations += 1
                if self._iterations >= MAX_UPDATE_ITERATIONS:
                    self._cyclic = True
        finally:
            ctx.nesting -= 1
            self._updating = False
            self._updated_once = True
        if recorder is not None or self._cyclic or not self._plain_updates:  # else _end_update does nothing
            self._end_update(recorder)

    def update_steps(self) -> UpdateSteps:
        """``update`` for deep graphs: the same steps, but each node it would update first is yielded
        to the driver (``_drive``), which updates it and then resumes this one."""
        if self._updating or not self._dirty or self.deleted:
            return
        ctx = self.ctx
        if self._plain_updates and ctx.step_recorder is None:  # _begin_update, inlined as in update
            if self._frame != ctx.frame_number:
                self._frame = ctx.frame_number
                self._iterations = 0
                self._cyclic = False
            self._updating = True
            recorder = None
        else:
            recorder = self._begin_update()
        try:
            while self._dirty and not self._cyclic and not self.deleted:
                for upstream in self._upstream:
                    if upstream._dirty:
                        yield upstream
                self._drain_pass()
        finally:
            self._updating = False
            self._updated_once = True
        if recorder is not None or self._cyclic or not self._plain_updates:
            self._end_update(recorder)

    def _begin_update(self) -> Recorder | None:
        """Start an update: a new frame's counters, the updating flag, the step's start."""
        ctx = self.ctx
        if self._frame != ctx.frame_number:
            self._frame = ctx.frame_number
            self._iterations = 0
            self._cyclic = False
        self._updating = True
        recorder = ctx.step_recorder
        if recorder is not None and self.reported_as is not None:
            recorder = None  # not a canvas node: its owner records the work as its own steps
        if recorder is not None:  # ctx.note_node_start, inlined: every step of a recorded run
            self._recorded_outputs = {}
            queued = {name: values[0] for name, values in self._queue.items() if values}
            recorder.node_started(ctx.run_id, self.id, self.type_name, queued)
        return recorder

    def _drain_pass(self) -> None:
        """One pass of the update loop, once the upstream nodes are settled."""
        self._dirty = False
        self._drain()
        self._iterations += 1
        if self._iterations >= MAX_UPDATE_ITERATIONS:
            self._cyclic = True

    def _end_update(self, recorder: Recorder | None) -> None:
        if recorder is not None:  # ctx.note_node_end, inlined
            outputs, self._recorded_outputs = self._recorded_outputs or {}, None
            recorder.node_finished(self.ctx.run_id, self.id, self.type_name, outputs)
        if self._cyclic:
            self.ctx.note_cyclic(self)

    def _drain(self) -> None:
        """Round-robin sweeps, one value per input, inputs in first-queued order, then callbacks."""
        queue = self._queue
        if not self._after_inputs:  # often nothing is left: the pass after callbacks flagged the node
            for values in queue.values():
                if values:
                    break
            else:
                return
        names = list(queue)
        more = True
        while more and not self._cyclic and not self.deleted:
            more = False
            for name in names:
                values = queue[name]  # names are never removed, except at teardown (checked below)
                if values:
                    spec = self._inputs.get(name)
                    if spec is None:
                        self.set_input(name, values.pop(0))
                    elif spec.plain_set is not None:  # set_input, inlined for plain inputs: the hottest call
                        value = values.pop(0)
                        self.input_values[name] = value
                        spec.plain_set(self, value)
                    elif spec.on_signal is not None and spec.type != "array":  # set_input, inlined
                        value = values.pop(0)
                        self.input_values[name] = value
                        now = value is True or (value is not False and js_truthy(value))
                        edges = self._edges
                        before = edges.get(name, False)
                        edges[name] = now
                        if now and not before:
                            spec.on_signal(self)
                    else:
                        self.set_input(name, values.pop(0))
                    if self.deleted:  # the run settled meanwhile; nothing after teardown is observable
                        return
                    if values:
                        more = True
            if self._after_inputs:
                callbacks, self._after_inputs = self._after_inputs, []
                for callback in callbacks:
                    if not self.deleted:
                        callback()

    def input_value(self, name: str) -> Any:
        """The last value set on an input, else its declared default (Noodl ``getInputValue``)."""
        if name in self.input_values:
            return self.input_values[name]
        spec = self.get_input(name)
        return spec.default if spec is not None else UNDEFINED

    def set_input(self, name: str, value: Any) -> None:
        spec = self._inputs.get(name) or self.get_input(name)
        if spec is None:
            return
        if spec.type == "array" and isinstance(value, str):
            value = self.ctx.services.js.eval_array_literal(self.ctx, value)  # strings are evaluated as JS
        self.input_values[name] = value
        if spec.on_signal is not None:
            now = js_truthy(value)
            before = self._edges.get(name, False)
            self._edges[name] = now
            if now and not before:
                spec.on_signal(self)
        elif spec.set is not None:
            spec.set(self, value)

    # ---- lifecycle -------------------------------------------------------------------------------
    def delete(self) -> None:
        """Teardown: also drop the references that form cycles, so the run is freed by refcount."""
        if self.deleted:  # teardown reaches inner nodes twice: via their instance and the run's list
            return
        self.deleted = True
        self._queue.clear()
        self._after_inputs.clear()
        self._out_conns.clear()
        self._upstream.clear()
        self._input_sources.clear()

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Editor-facing metadata, shaped like an entry of ``cloud-nodelib.json`` ``nodetypes``."""
        ports = [spec.describe() for spec in cls.INPUTS] + [spec.describe() for spec in cls.OUTPUTS]
        return {
            "name": cls.TYPE,
            "displayNodeName": cls.DISPLAY_NAME or cls.TYPE,
            "category": cls.CATEGORY,
            "docs": cls.DOCS,
            "ports": ports,
        }


def _flag_downstream_iteratively(start: Node) -> None:
    """``perform_dirty_update``'s recursion below ``start`` (already listed) as a loop, same order.

    A node is marked when it is reached in depth-first preorder, as the recursion marks it; one
    reached again through another path before that is skipped then, as the recursion skips it."""
    ctx = start.ctx
    stack = start.dirty_followers()
    stack.reverse()
    while stack:
        node = stack.pop()
        if node._dirty or node.deleted:
            continue
        node._dirty = True
        if not node.dirty_flagging:
            continue
        ctx._dirty.append(node)
        followers = node.dirty_followers()
        followers.reverse()
        stack.extend(followers)


def _drive(first: UpdateSteps) -> None:
    """Run nested updates without nesting Python calls: a stack of ``update_steps`` generators.

    Each yielded node's steps run before the yielding node resumes, exactly where the recursive
    ``update`` would have called it; an exception travels back through every suspended update (each
    clearing its flags on the way, as the recursion's ``finally`` clauses do) to the caller."""
    stack = [first]
    failure: BaseException | None = None
    while stack:
        steps = stack[-1]
        error, failure = failure, None
        try:
            following = next(steps) if error is None else steps.throw(error)
        except StopIteration:
            stack.pop()
            continue
        except BaseException as raised:
            stack.pop()
            if not stack:
                raise
            failure = raised
            continue
        stack.append(following.update_steps())
