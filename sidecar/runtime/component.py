"""Component instances: build a component's node scope and bridge its ports.

An instance node's inputs are the component's input ports; inside, ``Component Inputs`` exposes
one output per input port and ``Component Outputs`` one input per output port. Signals cross the
boundary as plain ``True``/``False`` values.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

from sidecar.runtime.context import RunContext
from sidecar.runtime.export import ComponentDef, ConnectionDef, NodeDef
from sidecar.runtime.node import Node, UpdateSteps
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.scope_template import InstanceTemplate, capture_instance
from sidecar.runtime.values import UNDEFINED, for_in_keys

log = structlog.get_logger()

_T = TypeVar("_T")


def _per_component(make: Callable[[ComponentDef], _T]) -> Callable[[ComponentDef], _T]:
    """``make``, computed once per component definition. Keyed by identity: hashing a definition walks
    all its nodes, and an id alone may be reused by a definition loaded later (hot reload)."""
    cache: dict[int, tuple[ComponentDef, _T]] = {}

    def cached(component: ComponentDef) -> _T:
        hit = cache.get(id(component))
        if hit is None or hit[0] is not component:
            hit = cache[id(component)] = (component, make(component))
        return hit[1]

    return cached


class ComponentInstance(Node):
    """An instance of a component; ``TYPE`` is set per instance to the component name."""

    CATEGORY = "Component"
    SAME_EVERY_RUN = True

    def __init__(self, ctx: RunContext, node_id: str, component: ComponentDef) -> None:
        super().__init__(ctx, node_id)
        self.component = component
        self.inner: dict[str, Node] = {}
        self.component_inputs: list[ComponentInputs] = []
        self.component_outputs: list[ComponentOutputs] = []
        self.output_values: dict[str, Any] = {}
        self.component_input_values: dict[str, Any] = {}
        # Set by Run Tasks: told of every component output change (name, new, old).
        self.on_output_changed: Callable[[str, Any, Any], None] | None = None
        self.always_connected: frozenset[str] = frozenset()
        # Copies: the cached specs are shared by every instance of the component.
        inputs, outputs = _port_specs(component)
        self._inputs = dict(inputs)
        self._outputs = dict(outputs)

    @property
    def type_name(self) -> str:
        return self.component.name

    def is_input_connected(self, name: str) -> bool:
        return name in self.always_connected or Node.is_input_connected(self, name)

    def perform_dirty_update(self) -> None:
        """Dirty together with its ``Component Outputs`` nodes, as Noodl's instance is, so its update
        below finds them dirty. (Noodl flags ``Component Inputs`` too; they hold no queued values, so
        that only added an empty step to the history.)"""
        Node.perform_dirty_update(self)
        for outputs_node in self.component_outputs:
            outputs_node.flag_dirty()

    def dirty_followers(self) -> list[Node]:
        followers = Node.dirty_followers(self)
        followers.extend(self.component_outputs)
        return followers

    def update(self) -> None:
        """Noodl's instance update: its own inputs, then every ``Component Outputs`` node inside.

        Updating an outputs node pulls the inner nodes wired to it, which pull ``Component Inputs``,
        so a value sent into the instance comes back out within the update of whoever pulled it."""
        Node.update(self)
        for outputs_node in self.component_outputs:
            if outputs_node._dirty:
                outputs_node.update()

    def update_steps(self) -> UpdateSteps:
        yield from Node.update_steps(self)
        for outputs_node in self.component_outputs:
            if outputs_node._dirty:
                yield outputs_node

    def delete(self) -> None:
        if self.deleted:
            return
        for node in self.inner.values():
            node.delete()
        self.inner.clear()
        self.component_inputs.clear()
        self.component_outputs.clear()
        self.on_output_changed = None
        super().delete()


@_per_component
def _port_specs(component: ComponentDef) -> tuple[dict[str, InputSpec], dict[str, OutputSpec]]:
    """Instance port specs depend only on the component."""
    inputs = {
        p.name: InputSpec(p.name, p.type, set=_forward_input(p.name)) for p in component.ports if p.is_input
    }
    outputs = {
        p.name: OutputSpec(p.name, p.type, get=_instance_output(p.name))
        for p in component.ports
        if p.is_output
    }
    return inputs, outputs


def _forward_input(name: str) -> Callable[[ComponentInstance, Any], None]:
    """An instance input: sent on by every ``Component Inputs`` node inside."""

    def setter(node: ComponentInstance, value: Any) -> None:
        node.component_input_values[name] = value
        for inputs_node in node.component_inputs:
            inputs_node.send_output(name, value)  # what its output getter reads

    return setter


def _instance_output(name: str) -> Callable[[ComponentInstance], Any]:
    def getter(node: ComponentInstance) -> Any:
        return node.output_values.get(name, UNDEFINED)

    return getter


@functools.cache
def _inputs_node_output(name: str) -> OutputSpec:
    return OutputSpec(name, "*", get=lambda node: node.owner.component_input_values.get(name, UNDEFINED))


@functools.cache
def _outputs_node_input(name: str) -> InputSpec:
    """An input of ``Component Outputs``: sets the instance output of that name, if it has one."""

    def setter(node: ComponentOutputs, value: Any) -> None:
        owner = node.owner
        if name not in owner._outputs:  # has_output, inlined
            return
        previous = owner.output_values.get(name, UNDEFINED)
        if owner.on_output_changed is not None:
            owner.on_output_changed(name, value, previous)
        owner.output_values[name] = value
        owner.send_output(name, value)  # what the instance output getter reads

    return InputSpec(name, "*", set=setter)


class ComponentInputs(Node):
    TYPE = "Component Inputs"
    DISPLAY_NAME = "Component Inputs"
    CATEGORY = "Component Utilities"
    SHARES_DYNAMIC_PORTS = True
    SAME_EVERY_RUN = True

    def __init__(self, ctx: RunContext, node_id: str, owner: ComponentInstance) -> None:
        super().__init__(ctx, node_id)
        self.owner = owner
        owner.component_inputs.append(self)
        self._upstream.append(owner)  # its values come from the instance's inputs: pull the instance

    def make_dynamic_output(self, name: str) -> OutputSpec | None:
        return _inputs_node_output(name)

    def feeds_from_connection(self, output: str) -> bool:
        return self.owner.is_input_connected(output)


class ComponentOutputs(Node):
    TYPE = "Component Outputs"
    DISPLAY_NAME = "Component Outputs"
    CATEGORY = "Component Utilities"
    SHARES_DYNAMIC_PORTS = True
    SAME_EVERY_RUN = True

    def __init__(self, ctx: RunContext, node_id: str, owner: ComponentInstance) -> None:
        super().__init__(ctx, node_id)
        self.owner = owner
        owner.component_outputs.append(self)

    def make_dynamic_input(self, name: str) -> InputSpec | None:
        return _outputs_node_input(name)


@_per_component
def creation_order(component: ComponentDef) -> list[NodeDef]:
    """All nodes, children included, in the real scope's order: a plain JS object keyed by id."""
    by_id = {node_def.id: node_def for node_def in component.walk_nodes()}
    return [by_id[i] for i in for_in_keys(by_id)]


def instantiate(ctx: RunContext, component: ComponentDef, instance_id: str) -> ComponentInstance:
    """Create the function's top-level instance; it takes part in dirty flagging at once."""
    instance = ComponentInstance(ctx, instance_id, component)
    instance.dirty_flagging = True
    ctx.nodes.append(instance)
    populate(ctx, instance)
    return instance


def new_instance(
    ctx: RunContext,
    component: ComponentDef,
    instance_id: str,
    always_connected: frozenset[str] = frozenset(),
) -> ComponentInstance:
    """An instance a run creates while it runs (a task, a child of For Each or Try/Catch): dirty
    flagging at once, listed in the run's nodes, its scope populated; ``always_connected``: instance
    inputs that count as connected (see ``ComponentInstance.is_input_connected``).

    The first one of a component is built and, when its nodes allow, captured as a template
    (``scope_template.capture_instance``); later ones, in any run of the same export, are copies of
    it in the same state, made several times faster."""
    templates = ctx.services.instance_templates
    key = (component.name, always_connected)
    known = templates.get(key)
    if known is not None and known[0] is component and ctx.debug is None:
        copy = known[1]
        if copy is not None:
            return copy.build(ctx, instance_id)
        return _build_instance(ctx, component, instance_id, always_connected)
    if ctx.debug is not None:  # a debugged run's nodes get debug classes: never the source of a copy
        return _build_instance(ctx, component, instance_id, always_connected)
    before = _RunMarks.of(ctx)
    instance = _build_instance(ctx, component, instance_id, always_connected)
    template: InstanceTemplate | None = None
    if before.unchanged_but_nodes(ctx):  # populate did nothing to the run a copy would not do
        hosts = list(ctx.script_nodes.items())[before.hosts :]
        made, dirty = ctx.nodes[before.nodes :], ctx._dirty[before.dirty :]
        try:
            template = capture_instance(ctx, instance, made, dirty, hosts)
        except Exception:  # a fault of the copy's writer: instances are built, the run goes on
            log.exception("capturing an instance failed", component=component.name)
    templates[key] = (component, template)
    return instance


def _build_instance(
    ctx: RunContext, component: ComponentDef, instance_id: str, always_connected: frozenset[str]
) -> ComponentInstance:
    instance = ComponentInstance(ctx, instance_id, component)
    instance.dirty_flagging = True
    instance.always_connected = always_connected
    ctx.nodes.append(instance)
    populate(ctx, instance)
    return instance


@dataclass(frozen=True, slots=True)
class _RunMarks:
    """What a run holds before an instance is built, to tell what building it added."""

    nodes: int
    dirty: int
    hosts: int
    others: tuple[int, ...]

    @staticmethod
    def of(ctx: RunContext) -> _RunMarks:
        others = (
            len(ctx.models.all()),
            len(ctx.error_scopes),
            len(ctx.record_classes),
            len(ctx._after_update),
            len(ctx._frame_end),
            len(ctx._tasks),
            ctx.deferred,
            ctx.failures,
            int(ctx.settled),
            id(ctx.js_state),
        )
        return _RunMarks(len(ctx.nodes), len(ctx._dirty), len(ctx.script_nodes), others)

    def unchanged_but_nodes(self, ctx: RunContext) -> bool:
        """Building added nodes, dirty entries and script hosts to the run, and nothing else."""
        after = _RunMarks.of(ctx)
        return after.others == self.others and after.nodes >= self.nodes and after.dirty >= self.dirty


# (node class, inputs, outputs); None where the node kept its class's static table.
_PortTables = tuple[type[Node], dict[str, InputSpec] | None, dict[str, OutputSpec] | None]


@_per_component
def _built_ports(component: ComponentDef) -> dict[str, _PortTables]:
    """The port tables each node had once its scope was built, for the node types that share dynamic
    ports, filled by the first build. Later builds hand copies to their new nodes, so wiring finds
    every port at once instead of making and registering it again."""
    return {}


def populate(ctx: RunContext, instance: ComponentInstance) -> None:
    """Build a component's scope as Noodl's ``NodeScope.setComponentModel`` does.

    All nodes are created (parameters queued) with dirty flagging held back, then connections are
    made in export order, then nodes join the frame's dirty list in creation order.
    """
    component = instance.component
    built_ports = _built_ports(component)
    created: list[Node] = []
    for node_def in creation_order(component):
        node = _create_node(ctx, node_def, instance, built_ports)
        if node is not None:
            instance.inner[node_def.id] = node
            created.append(node)
    for conn in component.connections:
        _connect(instance, conn)
    for node in created:
        node.dirty_flagging = True
        if node._dirty:
            node.perform_dirty_update()
        if node.SHARES_DYNAMIC_PORTS and node.id not in built_ports:
            built_ports[node.id] = (
                type(node),
                None if node._inputs is node._static_inputs else dict(node._inputs),
                None if node._outputs is node._static_outputs else dict(node._outputs),
            )


def _connect(instance: ComponentInstance, conn: ConnectionDef) -> None:
    source = instance.inner.get(conn.source_id)
    target = instance.inner.get(conn.target_id)
    if source is None or target is None:
        return  # a dropped (unknown-type) node takes its connections with it
    # get_output/get_input inlined for ports that already exist: every run wires every connection
    output = source._outputs.get(conn.source_port) or source.get_output(conn.source_port)
    if output is None or (target._inputs.get(conn.target_port) or target.get_input(conn.target_port)) is None:
        log.warning(
            "connection dropped: port cannot exist",
            component=instance.component.name,
            source=f"{conn.source_id}.{conn.source_port}",
            target=f"{conn.target_id}.{conn.target_port}",
        )
        return
    source.connect_output(output, target, conn.target_port)


def _create_node(
    ctx: RunContext, node_def: NodeDef, owner: ComponentInstance, built_ports: dict[str, _PortTables]
) -> Node | None:
    services = ctx.services
    node: Node
    if node_def.type == ComponentInputs.TYPE:
        node = ComponentInputs(ctx, node_def.id, owner)
    elif node_def.type == ComponentOutputs.TYPE:
        node = ComponentOutputs(ctx, node_def.id, owner)
    elif node_def.type in services.export.components:
        node = ComponentInstance(ctx, node_def.id, services.export.components[node_def.type])
        ctx.nodes.append(node)
        populate(ctx, node)
        node.apply_parameters(node_def.parameters)
        return node
    else:
        node_class = services.node_types.get(node_def.type)
        if node_class is None:
            return None  # unknown types were reported at load
        node = node_class(ctx, node_def.id)
        node.setup(node_def)
    if node.SHARES_DYNAMIC_PORTS:
        tables = built_ports.get(node_def.id)
        if tables is not None and tables[0] is type(node):
            inputs, outputs = tables[1], tables[2]
            if inputs is not None:  # copies: a node may still register ports while it runs
                node._inputs = dict(inputs)
            if outputs is not None:
                node._outputs = dict(outputs)
    ctx.nodes.append(node)
    node.apply_parameters(node_def.parameters)
    return node
