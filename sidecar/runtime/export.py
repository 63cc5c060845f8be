"""The deploy export (``CloudRunner.load`` input) as frozen values, validated on the way in.

Only shape is checked here; node types are checked by the runtime, which drops unknown types with
a warning as the real runner does. Every error names the component and node at fault.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sidecar.errors import WorkflowExportError

CLOUD_PREFIX = "/#__cloud__/"
# Deeper nesting of component instances is refused at load. Real projects nest a handful of levels;
# building a scope nests a few Python calls per level, which this keeps well inside the stack.
MAX_INSTANCE_NESTING = 200


@dataclass(frozen=True, slots=True)
class PortDef:
    name: str
    plug: str  # 'input' | 'output' | 'input/output'
    type: Any = "*"
    default: Any = None
    display_name: str | None = None

    @property
    def is_input(self) -> bool:
        return "input" in self.plug

    @property
    def is_output(self) -> bool:
        return "output" in self.plug

    @property
    def is_signal(self) -> bool:
        return self.type == "signal" or (isinstance(self.type, dict) and self.type.get("name") == "signal")


@dataclass(frozen=True, slots=True)
class NodeDef:
    id: str
    type: str
    parameters: Mapping[str, Any]
    ports: tuple[PortDef, ...] = ()
    children: tuple[NodeDef, ...] = ()


@dataclass(frozen=True, slots=True)
class ConnectionDef:
    source_id: str
    source_port: str
    target_id: str
    target_port: str


@dataclass(frozen=True, slots=True)
class ComponentDef:
    name: str
    ports: tuple[PortDef, ...]
    nodes: tuple[NodeDef, ...]
    connections: tuple[ConnectionDef, ...]
    # The component's own ``metadata`` object of the export (the editor keeps the workflow's
    # ``language`` there, see runtime.language); {} when it has none or it is not an object.
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def walk_nodes(self) -> list[NodeDef]:
        """Every node including nested children, depth first in document order."""
        found: list[NodeDef] = []
        stack = list(reversed(self.nodes))
        while stack:
            node = stack.pop()
            found.append(node)
            stack.extend(reversed(node.children))
        return found


@dataclass(frozen=True, slots=True)
class ExportDef:
    components: Mapping[str, ComponentDef]
    settings: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def function_names(self) -> list[str]:
        return [name[len(CLOUD_PREFIX) :] for name in self.components]


def load_export(data: object) -> ExportDef:
    """Validate a parsed export; raises :class:`WorkflowExportError` naming component and node."""
    if not isinstance(data, dict):
        raise WorkflowExportError("export must be a JSON object")
    raw_components = data.get("components")
    if not isinstance(raw_components, list):
        raise WorkflowExportError("export.components must be a list")
    components: dict[str, ComponentDef] = {}
    for index, raw in enumerate(raw_components):
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise WorkflowExportError(f"components[{index}] must be an object with a string name")
        if not raw["name"].startswith(CLOUD_PREFIX):
            continue  # the real runner filters non-cloud components out before load
        component = _component(raw)
        if component.name in components:
            raise WorkflowExportError("duplicate component", component=component.name)
        components[component.name] = component
    _refuse_instance_cycles(components)
    settings = data.get("settings") or {}
    metadata = data.get("metadata") or {}
    if not isinstance(settings, dict) or not isinstance(metadata, dict):
        raise WorkflowExportError("export.settings and export.metadata must be objects")
    return ExportDef(components=components, settings=settings, metadata=metadata)


def _refuse_instance_cycles(components: Mapping[str, ComponentDef]) -> None:
    """A component that (indirectly) contains an instance of itself could never be instantiated, and
    one nested deeper than ``MAX_INSTANCE_NESTING`` levels is refused (building a scope nests one
    call per level). Walked with an explicit stack, so an export cannot exhaust the Python stack."""
    depth_of: dict[str, int] = {}  # levels of instances below a component, itself included
    for root in components:
        if root in depth_of:
            continue
        path = [root]
        pending = [_instanced(components, root)]
        while pending:
            name = path[-1]
            following = next(pending[-1], None)
            if following is None:
                depth = 1 + max((depth_of[inner] for _id, inner in _instanced(components, name)), default=0)
                if depth > MAX_INSTANCE_NESTING:
                    message = f"component instances nest more than {MAX_INSTANCE_NESTING} levels deep"
                    raise WorkflowExportError(message, component=name)
                depth_of[name] = depth
                path.pop()
                pending.pop()
                continue
            node_id, inner = following
            if inner in path:
                message = f"instantiates {inner!r}, which contains it"
                raise WorkflowExportError(message, component=name, node=node_id)
            if inner not in depth_of:
                path.append(inner)
                pending.append(_instanced(components, inner))


def _instanced(components: Mapping[str, ComponentDef], name: str) -> Iterator[tuple[str, str]]:
    """(node id, component name) of every instance node in component ``name``."""
    return ((node.id, node.type) for node in components[name].walk_nodes() if node.type in components)


def _component(raw: dict[str, Any]) -> ComponentDef:
    name: str = raw["name"]
    nodes = _list(raw, "nodes", name, None)
    seen: set[str] = set()
    node_defs = tuple(_node(item, name, seen) for item in nodes)
    connections = tuple(_connection(item, name) for item in _list(raw, "connections", name, None))
    ports = tuple(_port(item, name, None) for item in _list(raw, "ports", name, None))
    metadata = raw.get("metadata")
    return ComponentDef(
        name=name,
        ports=ports,
        nodes=node_defs,
        connections=connections,
        metadata=metadata if isinstance(metadata, dict) else {},
    )


def _list(raw: dict[str, Any], key: str, component: str, node: str | None) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise WorkflowExportError(f"{key} must be a list", component=component, node=node)
    return value


def _node(raw: object, component: str, seen: set[str]) -> NodeDef:
    if not isinstance(raw, dict):
        raise WorkflowExportError("node must be an object", component=component)
    node_id, node_type = raw.get("id"), raw.get("type")
    if not isinstance(node_id, str) or not node_id:
        raise WorkflowExportError("node id must be a non-empty string", component=component)
    if not isinstance(node_type, str) or not node_type:
        raise WorkflowExportError("node type must be a non-empty string", component=component, node=node_id)
    if node_id in seen:
        raise WorkflowExportError("duplicate node id", component=component, node=node_id)
    seen.add(node_id)
    parameters = raw.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise WorkflowExportError("parameters must be an object", component=component, node=node_id)
    ports = tuple(_port(item, component, node_id) for item in _list(raw, "ports", component, node_id))
    children = tuple(_node(item, component, seen) for item in _list(raw, "children", component, node_id))
    return NodeDef(id=node_id, type=node_type, parameters=parameters, ports=ports, children=children)


def _port(raw: object, component: str, node: str | None) -> PortDef:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise WorkflowExportError(
            "port must be an object with a non-empty name", component=component, node=node
        )
    plug = raw.get("plug", "input")
    if plug not in ("input", "output", "input/output"):
        raise WorkflowExportError(
            f"port {raw['name']!r} has invalid plug {plug!r}", component=component, node=node
        )
    display = raw.get("displayName")
    return PortDef(
        name=raw["name"],
        plug=plug,
        type=raw.get("type", "*"),
        default=raw.get("default"),
        display_name=display if isinstance(display, str) else None,
    )


def _connection(raw: object, component: str) -> ConnectionDef:
    keys = ("sourceId", "sourcePort", "targetId", "targetPort")
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) and raw[k] for k in keys):
        raise WorkflowExportError(
            "connection needs non-empty sourceId, sourcePort, targetId, targetPort", component=component
        )
    return ConnectionDef(raw["sourceId"], raw["sourcePort"], raw["targetId"], raw["targetPort"])
