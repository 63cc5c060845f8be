"""Scope templates: later runs of a function start from a copy of the scope its first run built.

Every run builds its function's scope the same way: create the nodes, queue their parameters, wire
the connections, run the setup frame. When every node in the scope is of a type whose state after
that depends only on the export (``Node.copyable_after_setup``: no clock, randomness, run data or
script engine results), that state is the same on every run. The first run's state is then written
out as straight-line Python that recreates it object by object, and later runs execute that instead
of building: several times cheaper, since no port is looked up, no value queued and no node updated.

The capture refuses anything it does not understand (an object of an unknown type, a closure over
run state, a reference to a node outside the scope): such a function keeps building every run.

Writing and compiling the copy costs about 0.3 ms per node, once. Up to ``MAX_NODES`` nodes the first
run's own scope is captured on the spot. A larger scope is captured off the event loop instead
(:func:`capture_off_loop`, in a worker thread): from a scope built for that purpose only (so nothing
else touches it meanwhile), written as one small function per ``CHUNK_NODES`` nodes, each compiled
on its own so that no single step holds the interpreter for long (Python hands the GIL over between
bytecodes every few milliseconds, but not inside one ``compile`` call). Runs build until it is ready.

Instance templates (:func:`capture_instance`) do the same for the component instances a run creates
while it runs (Run Tasks' tasks, For Each / Try/Catch / Retry children): the state right after
``populate`` (nodes made, parameters queued, connections made, dirty nodes listed), before any frame
updates them, so the order of work within the run is exactly that of a fresh build. What ``populate``
did to the run besides making nodes (the dirty list, the script hosts' registry, a frame request) the
copy does too, on the run it is built in.
"""

from __future__ import annotations

import enum
import math
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from sidecar.runtime.export import ComponentDef, NodeDef
from sidecar.runtime.node import Node
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.values import UNDEFINED

if TYPE_CHECKING:
    from sidecar.runtime.component import ComponentInstance
    from sidecar.runtime.context import RunContext

log = structlog.get_logger()

# Shared by every run already: definitions, classes, enum members and the undefined marker.
_SHARED_TYPES = (ComponentDef, NodeDef, type, enum.Enum, type(UNDEFINED))
_SCALARS = (str, int, bool, bytes, type(None))  # exactly written by repr
_IMMUTABLE = (*_SCALARS, float)
_MAX_DEPTH = 64
# Writing and compiling a copy costs about 0.3 ms per node, once: up to this size on the event loop,
# during the first run; a larger scope is captured in a worker thread (capture_off_loop).
MAX_NODES = 100
# Nodes per generated function of an off-loop capture: one compile() of that many nodes holds the GIL
# for about 10 ms here.
CHUNK_NODES = 40

Build = Callable[["RunContext", str], "ComponentInstance"]


@dataclass(frozen=True, slots=True)
class ScopeTemplate:
    """Builds a scope in the state the captured run had after its setup frame."""

    engine_generation: int  # expression handles in the scope belong to this script engine generation
    build: Build


@dataclass(frozen=True, slots=True)
class InstanceTemplate:
    """Builds a component instance in the state ``populate`` leaves it in (see the module's notes)."""

    build: Build


class _NotCopyable(Exception):
    """Something in the scope cannot be recreated exactly; the function keeps building."""


def capture(ctx: RunContext, instance: ComponentInstance) -> ScopeTemplate | None:
    """A template of ``instance``'s scope right after its setup frame, or None when it has none
    (or it has more than ``MAX_NODES`` nodes: see :func:`capture_off_loop`)."""
    try:
        if len(ctx.nodes) > MAX_NODES:
            raise _NotCopyable(f"more than {MAX_NODES} nodes")
        check_quiet(ctx)
        source, constants = _Writer(ctx, instance).write()
    except _NotCopyable as reason:
        log.debug("function builds its scope every run", function=ctx.function, reason=str(reason))
        return None
    namespace: dict[str, Any] = dict(constants)
    namespace["new"] = object.__new__
    exec(compile(source, f"<scope template of {instance.component.name}>", "exec"), namespace)
    return ScopeTemplate(ctx.services.js.generation, namespace["build"])


def capture_off_loop(ctx: RunContext, instance: ComponentInstance, generation: int) -> ScopeTemplate | None:
    """:func:`capture` of a scope of any size, for a worker thread: ``ctx`` must be a scope built for
    the capture alone (no run uses it), already checked quiet on the loop (:func:`copyable`)."""
    try:
        parts, build, constants = _Writer(ctx, instance, CHUNK_NODES).write_chunks()
    except _NotCopyable as reason:
        log.debug("function builds its scope every run", function=ctx.function, reason=str(reason))
        return None
    namespace: dict[str, Any] = dict(constants)
    namespace["new"] = object.__new__
    name = f"<scope template of {instance.component.name}>"
    for part in parts:  # one compile per chunk: the GIL is handed back between them
        exec(compile(part, name, "exec"), namespace)
    exec(compile(build, name, "exec"), namespace)
    return ScopeTemplate(generation, namespace["build"])


def copyable(ctx: RunContext) -> bool:
    """Whether the scope ``ctx`` holds after its setup frame may be captured (size aside)."""
    try:
        check_quiet(ctx)
    except _NotCopyable as reason:
        log.debug("function builds its scope every run", function=ctx.function, reason=str(reason))
        return False
    return True


def capture_instance(
    ctx: RunContext,
    instance: ComponentInstance,
    nodes: list[Node],
    dirty: list[Node],
    hosts: list[tuple[str, Any]],
) -> InstanceTemplate | None:
    """A template of ``instance`` as ``populate`` just left it in the run ``ctx``, or None when it has
    none. ``nodes``: what populate added to ``ctx.nodes`` (the instance first); ``dirty``: what it added
    to the frame's dirty list; ``hosts``: what it added to the script hosts' registry, (key, node).
    The caller checks that populate did nothing else to the run."""
    try:
        if len(nodes) > MAX_NODES:
            raise _NotCopyable(f"more than {MAX_NODES} nodes")
        members = {id(node) for node in nodes}
        for node in nodes:
            if not node.copyable_after_setup():
                raise _NotCopyable(f"node {node.id!r} ({node.type_name}) may differ between runs")
        first_host = len(ctx.script_nodes) - len(hosts)
        for index, (key, host) in enumerate(hosts):
            # A host's key is its id and its place in the run's registry: the copy numbers it again.
            if id(host) not in members or key != f"{host.id}#{first_host + index}":
                raise _NotCopyable("a script host is registered in a way the copy cannot repeat")
        if any(id(node) not in members for node in dirty):
            raise _NotCopyable("a node outside the instance was flagged dirty")
        source, constants = _Writer(ctx, instance, nodes=nodes).write_instance(
            dirty, [host for _key, host in hosts]
        )
    except _NotCopyable as reason:
        name = instance.component.name
        log.debug("component instances are built every time", component=name, reason=str(reason))
        return None
    namespace: dict[str, Any] = dict(constants)
    namespace["new"] = object.__new__
    exec(compile(source, f"<instance template of {instance.component.name}>", "exec"), namespace)
    return InstanceTemplate(namespace["build"])


def check_quiet(ctx: RunContext) -> None:
    """Raise when the scope of ``ctx`` holds more than nodes that set up the same way every run."""
    if not ctx.holds_only_nodes():
        raise _NotCopyable("the setup frame did more than set parameters")
    for node in ctx.nodes:
        if not node.copyable_after_setup():
            raise _NotCopyable(f"node {node.id!r} ({node.type_name}) may differ between runs")


class _Writer:
    """Writes ``def build(ctx, instance_id)`` recreating every node and everything they hold.

    Node objects are made first, so any value may refer to any node. A mutable container reached
    from two places (or whose bound method is held) is made once into a variable, keeping identity.
    Values shared by every run anyway (specs, definitions, functions over constants) and the export's
    own parameter values are passed in as constants, as a fresh build would share them.
    """

    def __init__(
        self,
        ctx: RunContext,
        instance: ComponentInstance,
        chunk: int | None = None,
        nodes: list[Node] | None = None,
    ) -> None:
        """``nodes``: the nodes to recreate (the instance first); the whole scope ``ctx.nodes`` if None."""
        self.ctx = ctx
        self.instance = instance
        self.nodes = ctx.nodes if nodes is None else nodes
        # Chunked (write_chunks): nodes and shared containers live in lists the chunks are handed.
        self.chunk = chunk
        node_name = "n{}" if chunk is None else "n[{}]"
        self.node_names = {id(node): node_name.format(index) for index, node in enumerate(self.nodes)}
        self.constants: dict[str, Any] = {}
        self.constant_names: dict[int, str] = {}
        self.shared_ids = _shared_by_reference(self.nodes) | _parameter_ids(instance.component, ctx)
        self.references: dict[int, int] = {}
        self.hoisted: dict[int, str] = {}
        self.pending: list[str] = []

    def write(self) -> tuple[str, dict[str, Any]]:
        nodes = self._counted_nodes()
        lines = [f"    {self.node_names[id(node)]} = new({self._constant(type(node))})" for node in nodes]
        for node in nodes:
            lines.extend(self._node_lines(node, self.node_names[id(node)]))
        lines.append(f"    ctx.nodes = [{', '.join(self.node_names[id(node)] for node in nodes)}]")
        lines.extend(self._closing_lines())
        return "def build(ctx, instance_id):\n" + "\n".join(lines) + "\n", self.constants

    def write_instance(self, dirty: list[Node], hosts: list[Any]) -> tuple[str, dict[str, Any]]:
        """``def build(ctx, instance_id)`` recreating the nodes in ``ctx``, a run other than the
        captured one: it adds them to the run's nodes, registers ``hosts`` under keys of that run,
        lists ``dirty`` on its frame's dirty list and requests a frame, as ``populate`` did."""
        nodes = self._counted_nodes()
        names = self.node_names
        lines = [f"    {names[id(node)]} = new({self._constant(type(node))})" for node in nodes]
        for node in nodes:
            lines.extend(self._node_lines(node, names[id(node)]))
        lines.append(f"    ctx.nodes.extend([{', '.join(names[id(node)] for node in nodes)}])")
        if hosts:
            lines.append("    scripts = ctx.script_nodes")
        for host in hosts:
            name = names[id(host)]
            lines.append(f"    {name}.key = {name}.id + '#' + str(len(scripts))")
            lines.append(f"    scripts[{name}.key] = {name}")
        if dirty:
            lines.append(f"    ctx._dirty.extend([{', '.join(names[id(node)] for node in dirty)}])")
            lines.append("    if not ctx._frame_requested and not ctx._in_frame:")
            lines.append("        ctx.request_frame()")
        lines.append(f"    return {names[id(self.instance)]}")
        return "def build(ctx, instance_id):\n" + "\n".join(lines) + "\n", self.constants

    def write_chunks(self) -> tuple[list[str], str, dict[str, Any]]:
        """``write`` as chunk functions ``p<i>(ctx, instance_id, n, h)`` that each set the attributes
        of ``chunk`` nodes (``n``: the nodes, ``h``: shared containers), and a ``build`` calling them."""
        assert self.chunk is not None
        nodes = self._counted_nodes()
        parts: list[str] = []
        for start in range(0, len(nodes), self.chunk):
            lines = []
            for node in nodes[start : start + self.chunk]:
                lines.append(f"    v = {self.node_names[id(node)]}")
                lines.extend(self._node_lines(node, "v"))
            parts.append(f"def p{len(parts)}(ctx, instance_id, n, h):\n" + "\n".join(lines) + "\n")
        classes = ", ".join(f"new({self._constant(type(node))})" for node in nodes)
        lines = [f"    n = [{classes}]", "    h = {}"]
        lines.extend(f"    p{index}(ctx, instance_id, n, h)" for index in range(len(parts)))
        lines.append("    ctx.nodes = n")
        lines.extend(self._closing_lines())
        return parts, "def build(ctx, instance_id):\n" + "\n".join(lines) + "\n", self.constants

    def _counted_nodes(self) -> list[Node]:
        nodes = self.nodes
        if not nodes or nodes[0] is not self.instance:
            raise _NotCopyable("the instance is not the scope's first node")
        for node in nodes:
            for _name, value in _attributes(node):
                self._count(value, 0)
        return nodes

    def _node_lines(self, node: Node, variable: str) -> list[str]:
        lines: list[str] = []
        for name, value in _attributes(node):
            # The only per-run value: the top instance is named after the run.
            is_run_name = node is self.instance and name == "id"
            text = "instance_id" if is_run_name else self._expression(value, 0)
            lines.extend(f"    {line}" for line in self.pending)
            self.pending.clear()
            lines.append(f"    {variable}.{name} = {text}")
        return lines

    def _closing_lines(self) -> list[str]:
        lines: list[str] = []
        if self.ctx.script_nodes:  # the bridge's registry of Function nodes, by key
            text = self._expression(self.ctx.script_nodes, 0)
            lines.extend(f"    {line}" for line in self.pending)
            self.pending.clear()
            lines.append(f"    ctx.script_nodes = {text}")
        lines.append(f"    ctx.frame_number = {self.ctx.frame_number}")
        lines.append(f"    return {self.node_names[id(self.instance)]}")
        return lines

    # ---- pass 1: which containers are reached more than once -----------------------------------
    def _count(self, value: Any, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise _NotCopyable("a value nests too deeply (or contains itself)")
        kind = type(value)
        if kind is types.BuiltinMethodType and type(value.__self__) in (dict, list, set):
            self._count(value.__self__, depth + 1)
            owner = id(value.__self__)  # its method is held: the container needs a name
            self.references[owner] = self.references.get(owner, 0) + 1
        elif kind is tuple:  # immutable: its identity never matters, only what it holds
            for item in value:
                self._count(item, depth + 1)
        elif kind in (dict, list, set) and id(value) not in self.shared_ids:
            seen = self.references.get(id(value), 0)
            self.references[id(value)] = seen + 1
            if not seen:
                for item in value.values() if kind is dict else value:
                    self._count(item, depth + 1)

    # ---- pass 2: an expression recreating a value ------------------------------------------------
    def _expression(self, value: Any, depth: int) -> str:
        if depth > _MAX_DEPTH:
            raise _NotCopyable("a value nests too deeply")
        kind = type(value)
        if kind is str and self.ctx.run_id in value:
            raise _NotCopyable("a value holds the run id")  # made for this run: the next needs its own
        if kind in _SCALARS:
            return repr(value)
        if kind is float:
            return repr(value) if math.isfinite(value) else self._constant(value)
        if id(value) in self.node_names:
            return self.node_names[id(value)]
        if value is self.ctx:
            return "ctx"
        if kind is tuple and _is_constant(value, 0):
            return self._constant(value)
        if kind in (dict, list, set, tuple):
            return self._container(value, depth)
        if isinstance(value, Node):
            raise _NotCopyable(f"a value refers to node {value.id!r} of another scope")
        if isinstance(value, types.MethodType):
            return self._bound_method(value, depth)
        if kind is types.BuiltinMethodType and type(value.__self__) in (dict, list, set):
            return f"{self._container(value.__self__, depth)}.{value.__name__}"
        if _is_constant(value, 0):
            return self._constant(value)
        raise _NotCopyable(f"cannot recreate a {kind.__name__}")

    def _container(self, value: Any, depth: int) -> str:
        key = id(value)
        if key in self.shared_ids:
            return self._constant(value)
        if key in self.hoisted:
            return self.hoisted[key]
        if type(value) is not tuple and _all_constant(value):
            # A C-level copy of a private original beats rebuilding the literal item by item.
            text = f"{self._constant(type(value)(value))}.copy()" if value else _EMPTY[type(value)]
        else:
            text = self._literal(value, depth)
        if self.references.get(key, 0) > 1:
            hoisted_name = "h{}" if self.chunk is None else "h[{}]"
            name = self.hoisted[key] = hoisted_name.format(len(self.hoisted))
            self.pending.append(f"{name} = {text}")
            return name
        return text

    def _literal(self, value: Any, depth: int) -> str:
        if type(value) is dict:
            for item_key in value:
                if type(item_key) not in (str, int):
                    raise _NotCopyable(f"a dict key is a {type(item_key).__name__}")
            items = ", ".join(f"{k!r}: {self._expression(v, depth + 1)}" for k, v in value.items())
            return "{" + items + "}"
        items = ", ".join(self._expression(item, depth + 1) for item in value)
        if type(value) is list:
            return f"[{items}]"
        if type(value) is set:
            return "{" + items + "}" if value else "set()"
        return f"({items},)" if len(value) == 1 else f"({items})"

    def _bound_method(self, method: types.MethodType, depth: int) -> str:
        owner, name = method.__self__, method.__func__.__name__
        if getattr(type(owner), name, None) is not method.__func__:
            raise _NotCopyable(f"cannot recreate the bound method {name}")
        return f"{self._expression(owner, depth + 1)}.{name}"

    def _constant(self, value: Any) -> str:
        name = self.constant_names.get(id(value))
        if name is None:
            name = self.constant_names[id(value)] = f"c{len(self.constants)}"
            self.constants[name] = value
        return name


_EMPTY: dict[type, str] = {dict: "{}", list: "[]", set: "set()"}


def _attributes(node: Node) -> list[tuple[str, Any]]:
    """Every slot and instance attribute of ``node``, slots first, dict attributes in their order."""
    found: list[tuple[str, Any]] = []
    for cls in reversed(type(node).__mro__):
        for slot in cls.__dict__.get("__slots__", ()):
            if hasattr(node, slot):
                found.append((slot, getattr(node, slot)))
    for name, value in getattr(node, "__dict__", {}).items():
        if not name.isidentifier():  # setattr accepts any string; the generated code could not write it
            raise _NotCopyable(f"node {node.id!r} has an attribute named {name!r}")
        found.append((name, value))
    return found


def _shared_by_reference(nodes: list[Node]) -> set[int]:
    """The classes' static port tables: a node still using its class's table must keep using it."""
    tables: set[int] = set()
    for node in nodes:
        tables.add(id(type(node)._static_inputs))
        tables.add(id(type(node)._static_outputs))
    return tables


def _parameter_ids(component: ComponentDef, ctx: RunContext) -> set[int]:
    """Parameter values of every node definition the scope was built from (shared by every build)."""
    found: set[int] = set()
    pending = [component]
    seen: set[str] = set()
    while pending:
        current = pending.pop()
        if current.name in seen:
            continue
        seen.add(current.name)
        for node_def in current.walk_nodes():
            found.update(id(value) for value in node_def.parameters.values())
            inner = ctx.services.export.components.get(node_def.type)
            if inner is not None:
                pending.append(inner)
    return found


def _all_constant(container: Any) -> bool:
    items: Iterable[Any] = container.values() if type(container) is dict else container
    return all(_is_constant(item, 0) for item in items)


def _is_constant(value: Any, depth: int) -> bool:
    """Safe to share between runs: immutable, or a function whose closure holds only such values."""
    if depth > _MAX_DEPTH:
        return False
    if type(value) in _IMMUTABLE or isinstance(value, _SHARED_TYPES):
        return True
    if type(value) is InputSpec:  # a port made for one node may close over it
        handlers = (value.set, value.on_signal, value.default)
        return all(_is_constant(handler, depth + 1) for handler in handlers)
    if type(value) is OutputSpec:
        return _is_constant(value.get, depth + 1)
    if type(value) in (tuple, frozenset):
        return all(_is_constant(item, depth + 1) for item in value)
    if isinstance(value, types.FunctionType):
        try:
            return all(_is_constant(cell.cell_contents, depth + 1) for cell in value.__closure__ or ())
        except ValueError:  # a cell not filled yet
            return False
    if type(value) is types.BuiltinFunctionType:
        return value.__self__ is None or isinstance(value.__self__, types.ModuleType)
    return False
