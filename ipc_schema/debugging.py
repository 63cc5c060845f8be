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
