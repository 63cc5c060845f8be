"""Node types made from the descriptors of a backend's custom Python node packs.

A pack declares a node in Python (``@noodl.node`` in ``<backend>/python/*.py``); the worker that
discovered it answered a descriptor (name, display name, category, docs, typed inputs and outputs,
file). Here that descriptor becomes a :class:`~sidecar.runtime.node.Node` subclass whose run calls the
worker (``op: "custom"``) with the input values: the pack's code never runs in the sidecar. The
returned dict sets the value outputs; a signal output fires when its value is true.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import structlog

from sidecar.python_runtime import CallResult, PythonLimitError
from sidecar.runtime.node import Node
from sidecar.runtime.nodes.python import call_worker, plain, record_log_lines
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.values import UNDEFINED

log = structlog.get_logger()


class CustomPythonNode(Node):
    """Base of every pack node: values in, one worker call per sweep of inputs (or per ``run``)."""

    LANGUAGE = "python"
    PACK_FILE: ClassVar[str] = ""
    PACK_NAME: ClassVar[str] = ""
    VALUE_OUTPUTS: ClassVar[tuple[str, ...]] = ()
    SIGNAL_OUTPUTS: ClassVar[frozenset[str]] = frozenset()
    INPUT_NAMES: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.values: dict[str, Any] = {}
        self.results: dict[str, Any] = {}
        self._scheduled = False

    def store(self, name: str, value: Any) -> None:
        self.values[name] = value
        if not self.is_input_connected("run") and all(
            port in self.values or not self.is_input_connected(port) for port in self.INPUT_NAMES
        ):
            self.schedule()

    def schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.schedule_after_inputs(self._start)

    def _start(self) -> None:
        self._scheduled = False
        inputs = {name: plain(self.values.get(name, UNDEFINED)) for name in self.INPUT_NAMES}
        message = {"op": "custom", "file": self.PACK_FILE, "name": self.PACK_NAME, "inputs": inputs}
        call_worker(self, message, self._answered)

    def _answered(self, result: Any, error: BaseException | None) -> None:
        self.schedule_after_inputs(functools.partial(self._apply, result, error))

    def _apply(self, result: CallResult | None, error: BaseException | None) -> None:
        if error is not None or result is None:
            message = error.message if isinstance(error, PythonLimitError) else repr(error)
            self.ctx.report_node_error(self, message)
            self.ctx.reject(message)
            return
        record_log_lines(self, result.logs)
        if not result.ok:
            self.ctx.report_node_error(self, result.error or "the node's execute failed")
            return
        outputs = result.result if isinstance(result.result, dict) else {}
        for name in self.VALUE_OUTPUTS:
            if name in outputs:
                self.results[name] = outputs[name]
                self.flag_output_dirty(name)
        for name, value in outputs.items():
            if name in self.SIGNAL_OUTPUTS and value:
                self.send_signal(name)


def _input(name: str, port: Mapping[str, Any]) -> InputSpec:
    return InputSpec(
        name,
        port["type"],
        set=lambda node, value: node.store(name, value),
        default=port.get("default", UNDEFINED),
        display_name=port.get("displayName"),
    )


def _output(name: str, port: Mapping[str, Any]) -> OutputSpec:
    if port["type"] == "signal":
        return OutputSpec(name, "signal", display_name=port.get("displayName"))
    return OutputSpec(
        name,
        port["type"],
        get=lambda node: node.results.get(name, UNDEFINED),
        display_name=port.get("displayName"),
    )


def custom_node_class(descriptor: Mapping[str, Any], folder: Path) -> type[Node]:
    """A node type for one descriptor a worker answered for a pack in ``folder``."""
    inputs = [port for port in descriptor["inputs"] if port["type"] != "signal"]
    run = InputSpec("run", "signal", on_signal=lambda node: node.schedule(), display_name="Run")
    attributes = {
        "TYPE": descriptor["name"],
        "DISPLAY_NAME": descriptor["displayName"],
        "CATEGORY": descriptor["category"],
        "DOCS": descriptor["docs"],
        "PACK_FILE": str(folder / descriptor["file"]),
        "PACK_NAME": descriptor["name"],
        "INPUT_NAMES": tuple(port["name"] for port in inputs),
        "VALUE_OUTPUTS": tuple(port["name"] for port in descriptor["outputs"] if port["type"] != "signal"),
        "SIGNAL_OUTPUTS": frozenset(
            port["name"] for port in descriptor["outputs"] if port["type"] == "signal"
        ),
        "INPUTS": (*(_input(port["name"], port) for port in inputs), run),
        "OUTPUTS": tuple(_output(port["name"], port) for port in descriptor["outputs"]),
    }
    return type(
        "Custom_" + descriptor["name"].replace(".", "_").replace("-", "_"), (CustomPythonNode,), attributes
    )
