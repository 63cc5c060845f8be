"""Cloud-function exports used by the history tests (the runtime's export format, canvas node ids)."""

from __future__ import annotations

from typing import Any

CLOUD = "/#__cloud__/"


def _node(
    node_id: str, node_type: str, parameters: dict[str, Any], ports: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "parameters": parameters, "ports": ports or [], "children": []}


def _conn(source: str, source_port: str, target: str, target_port: str) -> dict[str, str]:
    return {"sourceId": source, "sourcePort": source_port, "targetId": target, "targetPort": target_port}


def _port(name: str, plug: str, port_type: str = "*") -> dict[str, Any]:
    return {"name": name, "displayName": name.split("-", 1)[1], "plug": plug, "type": port_type, "group": "x"}


def export(name: str, nodes: list[dict[str, Any]], connections: list[dict[str, str]]) -> dict[str, Any]:
    component = {"name": CLOUD + name, "ports": [], "roots": [], "nodes": nodes, "connections": connections}
    return {"settings": {}, "metadata": {}, "components": [component]}


SCRIPT = "Outputs.greeting = 'Hello ' + Inputs.name; Outputs.Done();"


def condition_then_function(script: str = SCRIPT) -> dict[str, Any]:
    """Request → Condition(flag) → on true: Function(name) → Response(greeting); on false: Response(no)."""
    function_ports = [
        _port("in-name", "input"),
        _port("out-greeting", "output"),
        _port("out-Done", "output", "signal"),
    ]
    nodes = [
        _node("req-1", "noodl.cloud.request", {"allowNoAuth": True, "params": "flag,name"}),
        _node("cond-7", "Condition", {}),
        _node("fn-3", "JavaScriptFunction", {"functionScript": script}, function_ports),
        _node("resp-ok", "noodl.cloud.response", {"params": "greeting"}),
        _node("resp-no", "noodl.cloud.response", {"params": "branch", "pm-branch": "no"}),
    ]
    connections = [
        _conn("req-1", "pm-flag", "cond-7", "condition"),
        _conn("req-1", "receive", "cond-7", "eval"),
        _conn("cond-7", "ontrue", "fn-3", "run"),
        _conn("req-1", "pm-name", "fn-3", "in-name"),
        _conn("fn-3", "out-greeting", "resp-ok", "pm-greeting"),
        _conn("fn-3", "out-Done", "resp-ok", "send"),
        _conn("cond-7", "onfalse", "resp-no", "send"),
    ]
    return export("greet", nodes, connections)
