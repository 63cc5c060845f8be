"""Recorder hooks the engine calls during a run; the history package implements them.

When no recorder is attached the engine skips every hook behind one ``is None`` check, so the hot
path pays nothing. Node hooks begin when the request enters the graph (the Request node's update):
the setup frame before it only applies parameters, so it is not reported, except for failures.
Node ids are canvas node ids (the export keeps them), types are node type names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Recorder(Protocol):
    def run_started(self, run_id: str, function: str, request: Mapping[str, Any]) -> None: ...

    def node_started(self, run_id: str, node_id: str, node_type: str, inputs: Mapping[str, Any]) -> None:
        """Before a node's work; ``inputs`` holds the next value queued on each input (signals: True)."""

    def node_finished(self, run_id: str, node_id: str, node_type: str, outputs: Mapping[str, Any]) -> None:
        """After a node's work; ``outputs`` holds what it sent (signals as ``True``)."""

    def node_failed(self, run_id: str, node_id: str, node_type: str, error: str) -> None: ...

    def node_progress(self, run_id: str, node_id: str, node_type: str, progress: Mapping[str, Any]) -> None:
        """Work of a node's open step is under way (an AI node's streamed text so far); not stored."""

    def run_usage(self, run_id: str, input_tokens: int, output_tokens: int, cost: float | None) -> None:
        """A model call of the run used this many tokens (summed on the execution's metadata)."""

    def run_finished(self, run_id: str, status_code: int, body: str, outcome: str) -> None: ...
