"""What is wrong with a deploy export, node by node, before it may replace a running bundle.

The real runner loads anything that has the export's shape: an unknown node type is dropped with its
connections, a connection to a port that cannot exist is dropped, a script that does not compile
leaves its node doing nothing, and a function without a Request node fails every call. Loading stays
that tolerant (``Runtime``, ``noodl-sidecar run``); a deploy is refused instead, with every problem
named by component and node id so the editor can highlight them:

- every function has a Request node. Functions are the ``/#__cloud__/`` components no node of the
  export uses (as its type, or as the template a parameter names); the others are building blocks;
- every node type is known: the runtime's library, a component of the export, or Component
  Inputs/Outputs/Children;
- every connection joins two nodes of its component, from an output its source can have to an input its
  target can have — the ports the runtime resolves while building a scope (static, on-demand, and a
  component instance's declared ports);
- every expression and script given as a parameter compiles in the JavaScript engine;
- one language per workflow (``runtime.language``): a component's language is known, and none of its
  nodes is code of the other language, nor an instance of a component of the other language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import structlog

from sidecar.errors import ScriptError
from sidecar.runtime.export import CLOUD_PREFIX, ComponentDef, ConnectionDef, ExportDef, NodeDef
from sidecar.runtime.jsengine import JsEngine
from sidecar.runtime.language import language_problem, mixing_problem, workflow_language
from sidecar.runtime.node import Node
from sidecar.runtime.nodes.code import ExpressionNode, FunctionNode, expression_identifiers
from sidecar.runtime.nodes.io import RequestNode
from sidecar.runtime.nodes.rest import RestNode
from sidecar.runtime.nodes.workflow.branching import WorkflowIfNode, WorkflowSwitchNode
from sidecar.runtime.services import RunServices
from sidecar.runtime.values import js_to_string

log = structlog.get_logger()

_COMPONENT_INPUTS = "Component Inputs"
_COMPONENT_OUTPUTS = "Component Outputs"
# In the real runner's library, and inert in a cloud function (it places a visual component's children):
# the runtime skips it, and a deploy is not refused for it.
_COMPONENT_CHILDREN = "Component Children"


@dataclass(frozen=True, slots=True)
class DeployProblem:
    """One reason to refuse a deploy; ``node_id`` is None for a problem of the component as a whole."""

    component_name: str
    node_id: str | None
    problem: str

    def to_json(self) -> dict[str, Any]:
        return {"nodeId": self.node_id, "componentName": self.component_name, "problem": self.problem}

    def describe(self) -> str:
        where = self.component_name + (f" node {self.node_id!r}" if self.node_id else "")
        return f"{where}: {self.problem}"


def function_components(export: ExportDef) -> list[ComponentDef]:
    """The components callable by name: those no node of the export uses, as its type or as a template
    named in a parameter (Run Tasks, For Each, Try/Catch)."""
    used: set[str] = set()
    for component in export.components.values():
        for node in component.walk_nodes():
            used.add(node.type)
            used.update(value for value in node.parameters.values() if isinstance(value, str))
    return [component for name, component in export.components.items() if name not in used]


def check_export(
    export: ExportDef, js: JsEngine, node_types: Mapping[str, type[Node]]
) -> list[DeployProblem]:
    """Every problem of ``export``, in component and node order; an empty list means it may deploy."""
    problems: list[DeployProblem] = []
    for component in function_components(export):
        if not any(node.type == RequestNode.TYPE for node in component.walk_nodes()):
            name = component.name[len(CLOUD_PREFIX) :]
            problem = f"function {name!r} has no Request node, so every call would fail"
            problems.append(DeployProblem(component.name, None, problem))
    for component in export.components.values():
        problems.extend(_ComponentCheck(export, component, js, node_types).problems())
    return problems


@dataclass
class _ScratchContext:
    """What a node reads of its run while it is created and asked for ports (no run exists here)."""

    services: Any
    script_nodes: dict[str, Any] = field(default_factory=dict)
    nodes: list[Any] = field(default_factory=list)
    recorder: Any = None
    step_recorder: Any = None
    run_id: str = "deploy-check"
    function: str = ""


@dataclass(frozen=True, slots=True)
class _Ports:
    """The ports a node can have: by name, or any name when ``has`` is None."""

    has_input: Callable[[str], bool]
    has_output: Callable[[str], bool]


_ANY_PORTS = _Ports(lambda _name: True, lambda _name: True)


class _ComponentCheck:
    def __init__(
        self, export: ExportDef, component: ComponentDef, js: JsEngine, node_types: Mapping[str, type[Node]]
    ) -> None:
        self._export = export
        self._component = component
        self._js = js
        self._node_types = node_types
        self._nodes = {node.id: node for node in component.walk_nodes()}
        self._scratch = _ScratchContext(services=RunServices(export=export, node_types=node_types, js=js))

    def problems(self) -> Iterator[DeployProblem]:
        if (unknown := language_problem(self._export, self._component)) is not None:
            yield self._problem(None, unknown)
        language = workflow_language(self._export, self._component)
        ports: dict[str, _Ports | None] = {}
        for node in self._nodes.values():
            known = self._is_known(node.type)
            if not known:
                yield self._problem(node.id, f"unknown node type {node.type!r}: the runtime has no such node")
                ports[node.id] = None
                continue
            if (mixed := self._mixing_problem(node, language)) is not None:
                yield self._problem(node.id, mixed)
            ports[node.id] = self._ports(node)
            yield from self._script_problems(node)
        for connection in self._component.connections:
            yield from self._connection_problems(connection, ports)

    def _is_known(self, node_type: str) -> bool:
        return (
            node_type in self._node_types
            or node_type in self._export.components
            or node_type in (_COMPONENT_INPUTS, _COMPONENT_OUTPUTS, _COMPONENT_CHILDREN)
        )

    def _mixing_problem(self, node: NodeDef, language: str) -> str | None:
        node_class = self._node_types.get(node.type)
        if node_class is not None:
            return mixing_problem(node_class, language)
        instance_of = self._export.components.get(node.type)
        if instance_of is None:
            return None
        other = workflow_language(self._export, instance_of)
        if other == language:
            return None
        return (
            f"an instance of {node.type!r}, a {other} component, in a {language} workflow: "
            "one language per workflow"
        )

    def _problem(self, node_id: str | None, problem: str) -> DeployProblem:
        return DeployProblem(self._component.name, node_id, problem)

    # ---- ports ---------------------------------------------------------------------------------------
    def _ports(self, node_def: NodeDef) -> _Ports | None:
        """The node's ports as the runtime resolves them while wiring; None when they cannot be known."""
        if node_def.type == _COMPONENT_INPUTS:
            return _Ports(lambda _name: False, lambda _name: True)
        if node_def.type == _COMPONENT_OUTPUTS:
            return _Ports(lambda _name: True, lambda _name: False)
        if node_def.type == _COMPONENT_CHILDREN:
            return _ANY_PORTS
        instance_of = self._export.components.get(node_def.type)
        if instance_of is not None:
            inputs = {port.name for port in instance_of.ports if port.is_input}
            outputs = {port.name for port in instance_of.ports if port.is_output}
            return _Ports(inputs.__contains__, outputs.__contains__)
        try:
            node = self._node_types[node_def.type](self._scratch, node_def.id)  # type: ignore[arg-type]
            node.setup(node_def)
        except Exception as error:  # a node that needs a real run to exist: leave its ports unchecked
            log.debug("deploy check cannot build node", node_id=node_def.id, error=repr(error))
            return _ANY_PORTS
        return _Ports(
            lambda name: node.get_input(name) is not None, lambda name: node.get_output(name) is not None
        )

    def _connection_problems(
        self, connection: ConnectionDef, ports: Mapping[str, _Ports | None]
    ) -> Iterator[DeployProblem]:
        source, target = connection.source_id, connection.target_id
        drawn = f"connection {source}.{connection.source_port} → {target}.{connection.target_port}"
        missing = [node_id for node_id in (source, target) if node_id not in self._nodes]
        if missing:
            present = next((node_id for node_id in (source, target) if node_id in self._nodes), source)
            names = " and ".join(repr(node_id) for node_id in missing)
            yield self._problem(present, f"{drawn}: no node {names} in this component")
            return
        source_ports, target_ports = ports.get(source), ports.get(target)
        if source_ports is None or target_ports is None:
            return  # an unknown node type, reported once on its own
        if not source_ports.has_output(connection.source_port):
            kind = self._nodes[source].type
            problem = f"{drawn}: a {kind!r} node has no output {connection.source_port!r}"
            yield self._problem(source, problem)
        if not target_ports.has_input(connection.target_port):
            kind = self._nodes[target].type
            problem = f"{drawn}: a {kind!r} node has no input {connection.target_port!r}"
            yield self._problem(target, problem)

    # ---- scripts -------------------------------------------------------------------------------------
    def _script_problems(self, node: NodeDef) -> Iterator[DeployProblem]:
        for what, compile_source in _scripts(self._node_types.get(node.type), node.parameters):
            try:
                compile_source(self._js)
            except ScriptError as error:
                yield self._problem(node.id, f"{what} does not compile: {error.message}")


# Where each node type keeps source code in its parameters, and how the engine compiles it.
Compile = Callable[[JsEngine], object]


def _scripts(node_class: type[Node] | None, parameters: Mapping[str, Any]) -> Iterator[tuple[str, Compile]]:
    def text(name: str) -> str | None:
        value = parameters.get(name)
        source = js_to_string(value).strip() if value is not None else ""
        return source or None  # an empty expression is a node not filled in yet, not a broken one

    def expression(source: str) -> Compile:
        return lambda js: js.compile_expression(source, expression_identifiers(source))

    if node_class is None:
        return
    if issubclass(node_class, ExpressionNode | WorkflowIfNode) and (source := text("expression")):
        yield "the expression", expression(source)
    elif issubclass(node_class, FunctionNode) and (script := text("functionScript")):
        yield "the script", lambda js: js.compile_function(script)
    elif issubclass(node_class, RestNode):
        for name, payload in (("requestScript", "Request"), ("responseScript", "Response")):
            if rest_script := text(name):
                yield f"the {payload.lower()} script", _rest_script(rest_script, payload)
    elif issubclass(node_class, WorkflowSwitchNode) and isinstance(parameters.get("cases"), list):
        for index, case in enumerate(parameters["cases"]):
            if (
                isinstance(case, dict)
                and isinstance(case.get("expression"), str)
                and case["expression"].strip()
            ):
                yield f"the expression of case_{index}", expression(case["expression"])


def _rest_script(script: str, payload: str) -> Compile:
    return lambda js: js.compile_script(script, ("Inputs", "Outputs", payload))
