"""Lifecycle methods and control notifications (LSP-style; see docs/protocol.md, "Lifecycle")."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ipc_schema.base import PositionalParams, WireModel

PROTOCOL_VERSION = "1.0"

LogLevel = Literal["debug", "info", "warning", "error", "critical"]


class ClientInfo(WireModel):
    name: str
    version: str | None = None


class InitializeOptions(WireModel):
    protocol_version: str = Field(pattern=r"^\d+\.\d+$")
    parent_pid: int | None = None
    log_level: LogLevel = "info"
    client_info: ClientInfo | None = None
    log_notifications: bool = Field(
        default=False, description="Also send log records at or above logLevel as `$/log` notifications."
    )


class InitializeParams(PositionalParams):
    options: InitializeOptions


class ServerInfo(WireModel):
    name: str
    version: str
    python: str
    pid: int
    frozen: bool = Field(description="True when running from a PyInstaller build.")


class Capabilities(WireModel):
    methods: list[str] = Field(description="Every request method this sidecar answers.")
    notifications: list[str] = Field(description="Every notification this sidecar may send.")
    max_message_bytes: int
    cancellation: bool = True
    progress: bool = True


class InitializeResult(WireModel):
    server_info: ServerInfo
    protocol_version: str
    capabilities: Capabilities
    import_ms: float = Field(
        description="Milliseconds spent importing before the handshake could be answered."
    )


class CancelRequest(WireModel):
    id: int


class CancelParams(PositionalParams):
    request: CancelRequest


class SetLogLevelOptions(WireModel):
    level: LogLevel
    log_notifications: bool | None = None


class SetLogLevelParams(PositionalParams):
    options: SetLogLevelOptions


class ProgressValue(WireModel):
    kind: Literal["begin", "report", "end"]
    title: str | None = None
    message: str | None = None
    percentage: float | None = None
    cancellable: bool | None = None


class ProgressEvent(WireModel):
    token: str | int
    value: ProgressValue


class ProgressParams(PositionalParams):
    event: ProgressEvent


class LogRecord(WireModel):
    model_config = WireModel.model_config | {"extra": "allow"}

    level: LogLevel
    event: str
    timestamp: str | None = None


class LogParams(PositionalParams):
    record: LogRecord


class ErrorEvent(WireModel):
    """Sent as `$/error` when a notification (which cannot be answered) fails."""

    code: int
    message: str
    data: Any = None


class ErrorEventParams(PositionalParams):
    error: ErrorEvent


class RequestMeta(WireModel):
    """Optional per-call metadata, sent as a trailing `{"$meta": {...}}` argument."""

    progress_token: str | int | None = None
    trace_id: str | None = None
