"""The deploy export (``CloudRunner.load`` input) as frozen values, validated on the way in.

Only shape is checked here; node types are checked by the runtime, which drops unknown types with
a warning as the real runner does. Every error names the component and node at fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sidecar.errors import WorkflowExportError

CLOUD_PREFIX = "/#__cloud__/"


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
    """A component that (indirectly) contains an instance of itself could never be instantiated."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in done:
            return
        for node in components[name].walk_nodes():
            if node.type not in components:
                continue
            if node.type in path or node.type == name:
                raise WorkflowExportError(
                    f"instantiates {node.type!r}, which contains it", component=name, node=node.id
                )
            visit(node.type, [*path, name])
        done.add(name)

    for name in components:
        visit(name, [])


def _component(raw: dict[str, Any]) -> ComponentDef:
    name: str = raw["name"]
    nodes = _list(raw, "nodes", name, None)
    seen: set[str] = set()
    node_defs = tuple(_node(item, name, seen) for item in nodes)
    connections = tuple(_connection(item, name) for item in _list(raw, "connections", name, None))
    ports = tuple(_port(item, name, None) for item in _list(raw, "ports", name, None))
    return ComponentDef(name=name, ports=ports, nodes=node_defs, connections=connections)


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
