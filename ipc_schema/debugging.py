"""Debugging a run from the editor: pin an execution to the canvas, read one port's full value, re-run
with edited input, cancel a running execution (``sidecar.debugging``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from ipc_schema.base import PositionalParams, WireModel


class StepValueRequest(WireModel):
    step_id: str = Field(description="An ExecutionStep id, as `execution:pin` lists it per run.")
    side: Literal["input", "output"] = "output"
    port: str | None = Field(default=None, description="A port name; omitted: the whole side.")


class StepValueParams(PositionalParams):
    request: StepValueRequest


class RerunEdits(WireModel):
    """A replacement request: each field given replaces (body) or is merged over (headers) the recorded
    one. Unknown keys are refused (a misspelt edit must not turn into a plain re-run)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    body: Any = Field(default=None, description="The new JSON body (a trigger's payload is its body).")
    headers: dict[str, str | None] | None = Field(
        default=None, description="Header values merged over the recorded ones; null removes a header."
    )
    session_token: str | None = Field(default=None, description="Run as this user (x-parse-session-token).")


class RerunParams(PositionalParams):
    execution_id: str
    edits: RerunEdits | None = Field(
        default=None,
        description="Optional replacement request. Redacted parts must be supplied or are left out; "
        "a request that still holds the [REDACTED] marker is refused (409).",
    )


class PinsParams(PositionalParams):
    backend_id: str
    name: str = Field(description="A function (cloud component) name.")


class SetPinsParams(PositionalParams):
    backend_id: str
    name: str
    pins: dict[str, dict[str, Any]] = Field(
        description="{nodeId: {outputPort: value}}; signals as true. {} clears the function's pins."
    )


class TestRunOptions(WireModel):
    """A test run under the debugger. Unknown keys are refused."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    body: Any = Field(default=None, description="The request body (JSON value or raw text).")
    headers: dict[str, str] | None = None
    pins: dict[str, dict[str, Any]] | None = Field(
        default=None, description="Pinned outputs for this run, merged over the function's saved pins."
    )
    breakpoints: list[str] | None = Field(
        default=None, description="Node ids to pause before (execution:paused; execution:continue/step)."
    )
    use_saved_pins: bool = Field(default=True, description="false: ignore the function's saved pins.")


class TestRunParams(PositionalParams):
    backend_id: str
    name: str
    options: TestRunOptions = Field(default_factory=TestRunOptions)


class RunFromOptions(WireModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    pins: dict[str, dict[str, Any]] | None = None
    breakpoints: list[str] | None = None


class RunFromParams(PositionalParams):
    execution_id: str
    node_id: str = Field(description="The canvas node to start at; the nodes upstream of it are replayed.")
    options: RunFromOptions = Field(default_factory=RunFromOptions)
