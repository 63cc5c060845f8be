"""Diagnostic methods, registered only when ``NOODL_SIDECAR_DIAGNOSTICS=1``.

They let tests and benchmarks drive the protocol itself (a slow call to cancel, a
large payload to echo, a handler that writes to stdout) without a real feature.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ipc_schema.base import PositionalParams, WireModel


class EchoParams(PositionalParams):
    value: Any = Field(description="Returned unchanged; bytes stay bytes.")


class SleepOptions(WireModel):
    ms: int = Field(ge=0, le=600_000)


class SleepParams(PositionalParams):
    options: SleepOptions


class PrintParams(PositionalParams):
    text: str
