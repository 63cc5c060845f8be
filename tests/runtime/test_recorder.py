"""Recorder hooks: the history package sees run start, each node's work and the end."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sidecar.runtime import Recorder, Runtime, make_request
from tests.runtime.conftest import load_conformance_export
from tests.runtime.graphs import component, conn, export, node, request_node


class ListRecorder:
    """A real recorder that keeps every call, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def run_started(self, run_id: str, function: str, request: Mapping[str, Any]) -> None:
        self.calls.append(("run_started", function, request["body"]))

    def node_started(self, run_id: str, node_id: str, node_type: str, inputs: Mapping[str, Any]) -> None:
        self.calls.append(("node_started", node_id, node_type, dict(inputs)))

    def node_finished(self, run_id: str, node_id: str, node_type: str, outputs: Mapping[str, Any]) -> None:
        self.calls.append(("node_finished", node_id, node_type, dict(outputs)))

    def node_failed(self, run_id: str, node_id: str, node_type: str, error: str) -> None:
        self.calls.append(("node_failed", node_id, node_type, error))

    def node_progress(self, run_id: str, node_id: str, node_type: str, progress: Mapping[str, Any]) -> None:
        self.calls.append(("node_progress", node_id, node_type, dict(progress)))

    def run_usage(self, run_id: str, input_tokens: int, output_tokens: int, cost: float | None) -> None:
        self.calls.append(("run_usage", input_tokens, output_tokens, cost))

    def run_finished(self, run_id: str, status_code: int, body: str, outcome: str) -> None:
        self.calls.append(("run_finished", status_code, body, outcome))


async def test_echo_run_is_recorded_with_canvas_ids_types_inputs_and_outputs() -> None:
    recorder = ListRecorder()
    runtime = Runtime.from_export(load_conformance_export("exports/a_echo.export.json"))

    checked: Recorder = recorder  # the Protocol is structural; mypy checks the fit here
    await runtime.run("echo", make_request({"message": "hi", "count": 2}), recorder=checked)

    calls = recorder.calls
    assert calls[0] == ("run_started", "echo", '{"message":"hi","count":2}')
    assert (
        "node_finished",
        "req",
        "noodl.cloud.request",
        {"auth": False, "pm-message": "hi", "pm-count": 2, "receive": True},
    ) in calls
    starts = [c for c in calls if c[0] == "node_started"]
    # Node work is reported from the request on: the setup frame that applies parameters is not.
    assert starts[0][1:3] == ("req", "noodl.cloud.request")
    response_starts = [c for c in starts if c[1] == "resp"]
    assert response_starts == [
        ("node_started", "resp", "noodl.cloud.response", {"send": True, "pm-echo": "hi", "pm-count": 2})
    ]
    assert calls[-1] == ("run_finished", 200, '{"result":{"echo":"hi","count":2}}', "responded")


async def test_a_failing_script_is_recorded_as_a_node_failure() -> None:
    script_node = node("fn", "JavaScriptFunction", {"functionScript": "throw new Error('boom')"})
    graph = export(component("f", [request_node(), script_node], [conn("req", "receive", "fn", "run")]))
    recorder = ListRecorder()

    await Runtime.from_export(graph, timeout_seconds=0.05).run("f", make_request({}), recorder=recorder)

    failures = [c for c in recorder.calls if c[0] == "node_failed"]
    assert failures[0][1:3] == ("fn", "JavaScriptFunction")
    assert "Error: boom" in failures[0][3]
    assert recorder.calls[-1][1] == 504
