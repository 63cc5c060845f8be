"""The protocol's table of contents: every method and notification with its models.

The sidecar binds a handler to each client-to-sidecar entry (``sidecar.ipc.methods``);
the generator (``ipc_schema.generate``) writes JSON Schema and TypeScript from here.
A method's params are always an argument array, described by a ``PositionalParams``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from ipc_schema import diagnostics, lifecycle, system
from ipc_schema.base import NoParams, PositionalParams


class Direction(Enum):
    TO_SIDECAR = "toSidecar"
    TO_EDITOR = "toEditor"


@dataclass(frozen=True)
class MethodSpec:
    """A request: answered with ``result`` (``None`` means nil on the wire)."""

    name: str
    params: type[PositionalParams]
    result: Any
    doc: str
    diagnostic: bool = False


@dataclass(frozen=True)
class NotificationSpec:
    name: str
    params: type[PositionalParams]
    direction: Direction
    doc: str


METHODS: tuple[MethodSpec, ...] = (
    MethodSpec(
        "initialize",
        lifecycle.InitializeParams,
        lifecycle.InitializeResult,
        "First request of a session. Requests sent before it are answered with -32002.",
    ),
    MethodSpec(
        "shutdown", NoParams, None, "Stop accepting work, finish or cancel in-flight calls, answer nil."
    ),
    MethodSpec("$/ping", NoParams, None, "Liveness probe, answered on the event loop."),
    MethodSpec(
        "sidecar:selftest",
        NoParams,
        system.SelftestResult,
        "Exercise every native extension and library the process needs; reports each check.",
    ),
    MethodSpec(
        "diagnostics:echo", diagnostics.EchoParams, Any, "Answer with the value sent.", diagnostic=True
    ),
    MethodSpec(
        "diagnostics:sleep", diagnostics.SleepParams, None, "Answer after `ms` milliseconds.", diagnostic=True
    ),
    MethodSpec(
        "diagnostics:print",
        diagnostics.PrintParams,
        None,
        "print() the text, as a careless handler would; it must land on stderr.",
        diagnostic=True,
    ),
)

NOTIFICATIONS: tuple[NotificationSpec, ...] = (
    NotificationSpec(
        "initialized", NoParams, Direction.TO_SIDECAR, "The editor has processed initialize's result."
    ),
    NotificationSpec("exit", NoParams, Direction.TO_SIDECAR, "Exit: code 0 after shutdown, 1 otherwise."),
    NotificationSpec(
        "$/cancelRequest", lifecycle.CancelParams, Direction.TO_SIDECAR, "Cancel a call in flight."
    ),
    NotificationSpec(
        "$/setLogLevel",
        lifecycle.SetLogLevelParams,
        Direction.TO_SIDECAR,
        "Change the log level at run time.",
    ),
    NotificationSpec(
        "$/progress",
        lifecycle.ProgressParams,
        Direction.TO_EDITOR,
        "Progress of a call that sent a progressToken.",
    ),
    NotificationSpec(
        "$/log", lifecycle.LogParams, Direction.TO_EDITOR, "A log record, when the editor asked for them."
    ),
    NotificationSpec(
        "$/error",
        lifecycle.ErrorEventParams,
        Direction.TO_EDITOR,
        "A notification or an undecodable message failed.",
    ),
)


def method_named(name: str) -> MethodSpec:
    for spec in METHODS:
        if spec.name == name:
            return spec
    raise KeyError(name)
