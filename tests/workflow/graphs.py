"""Builders for workflow graphs in tests: a function ``f`` whose Response echoes chosen outputs.

Most tests draw: Request → (workflow nodes) → Response, with ``answer(...)`` wiring outputs to the
Response's parameters, then read the answer with ``run_flow``; ``run_recorded`` does the same with
an execution history attached and returns the stored execution with its steps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sidecar.history import ExecutionHistory
from sidecar.runtime import Runtime, make_request
from sidecar.runtime.export import CLOUD_PREFIX
from tests.runtime.graphs import component, conn, export, node, request_node, response_node

CHILD_PORTS = [
    {"name": "Do", "plug": "input", "type": "signal"},
    {"name": "currentItem", "plug": "input", "type": "*"},
    {"name": "currentIndex", "plug": "input", "type": "number"},
    {"name": "data", "plug": "input", "type": "*"},
    {"name": "result", "plug": "output", "type": "*"},
    {"name": "error", "plug": "output", "type": "*"},
    {"name": "Success", "plug": "output", "type": "signal"},
    {"name": "Failure", "plug": "output", "type": "signal"},
]


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any

    @property
    def result(self) -> Any:
        return self.body.get("result") if isinstance(self.body, dict) else None


def child(name: str, nodes: list[dict[str, Any]], connections: list[dict[str, str]]) -> dict[str, Any]:
    """A template component (For Each / Try/Catch child) with the standard child ports.

    Only cloud components are loaded, so the component is ``/#__cloud__/<name>``; a template input
    may name it either way."""
    return {
        "name": CLOUD_PREFIX + name,
        "ports": CHILD_PORTS,
        "roots": [],
        "nodes": [node("in", "Component Inputs"), node("out", "Component Outputs"), *nodes],
        "connections": connections,
    }


def expression_child(name: str, expression: str) -> dict[str, Any]:
    """Child: ``result = expression`` over currentItem/currentIndex/data; truthy → Success else Failure."""
    return child(
        name,
        [node("calc", "Expression", {"expression": expression})],
        [
            conn("in", "currentItem", "calc", "currentItem"),
            conn("in", "currentIndex", "calc", "currentIndex"),
            conn("in", "data", "calc", "data"),
            conn("in", "Do", "calc", "run"),
            conn("calc", "result", "out", "result"),
            conn("calc", "isTrueEv", "out", "Success"),
            conn("calc", "isFalseEv", "out", "Failure"),
        ],
    )


def function_child(name: str, script: str) -> dict[str, Any]:
    """Child running a Function node on Do; its ``out-result`` is the result, ``out-Done`` is Success."""
    ports = [
        {"name": "out-result", "plug": "output", "type": "*"},
        {"name": "out-Done", "plug": "output", "type": "signal"},
    ]
    return child(
        name,
        [node("script", "JavaScriptFunction", {"functionScript": script}, ports=ports)],
        [
            conn("in", "Do", "script", "run"),
            conn("in", "data", "script", "in-data"),
            conn("script", "out-result", "out", "result"),
            conn("script", "out-Done", "out", "Success"),
        ],
    )


def build(
    nodes: list[dict[str, Any]],
    connections: list[dict[str, str]],
    extra_components: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    return export(component("f", [request_node(), response_node(), *nodes], connections), *extra_components)


def _answer(status: int, body: str) -> Answer:
    return Answer(status, json.loads(body) if body else None)


async def run_flow(
    nodes: list[dict[str, Any]],
    connections: list[dict[str, str]],
    body: Any = None,
    *,
    extra_components: tuple[dict[str, Any], ...] = (),
    timeout_seconds: float = 1.0,
) -> Answer:
    runtime = Runtime.from_export(
        build(nodes, connections, extra_components), timeout_seconds=timeout_seconds
    )
    response = await runtime.run("f", make_request(body if body is not None else {}))
    return _answer(response.status_code, response.body)


async def run_recorded(
    history: ExecutionHistory,
    nodes: list[dict[str, Any]],
    connections: list[dict[str, str]],
    body: Any = None,
    *,
    extra_components: tuple[dict[str, Any], ...] = (),
    timeout_seconds: float = 1.0,
) -> tuple[Answer, dict[str, Any]]:
    """Run with a history recorder; return the answer and the stored execution (with steps)."""
    runtime = Runtime.from_export(
        build(nodes, connections, extra_components), timeout_seconds=timeout_seconds
    )
    recorder = history.recorder_for()
    assert recorder is not None
    response = await runtime.run("f", make_request(body if body is not None else {}), recorder=recorder)
    assert history.writer is not None
    await history.writer.flush()
    assert recorder.execution_id is not None
    stored = await history.get_execution(recorder.execution_id)
    assert stored is not None
    return _answer(response.status_code, response.body), stored


def steps_of(stored: dict[str, Any], node_id: str) -> list[dict[str, Any]]:
    return [step for step in stored["steps"] if step["nodeId"] == node_id]


def error_steps(stored: dict[str, Any]) -> list[tuple[str, str]]:
    """``(nodeId, errorMessage)`` of every failed step, in step order."""
    return [(s["nodeId"], s.get("errorMessage", "")) for s in stored["steps"] if s["status"] == "error"]
