"""The msgpack-RPC session: lifecycle, dispatch, cancellation.

Lifecycle (LSP's, see docs/protocol.md, "Lifecycle")::

    AWAITING_INITIALIZE --initialize--> RUNNING --shutdown--> SHUT_DOWN --exit--> CLOSED
          │                                │                      │
          └──────── stdin EOF, exit, fatal stream error, SIGTERM ─┴──────────────> CLOSED

Every request is answered exactly once under its own id, including cancelled ones
(-32800). The session owns no I/O: it receives decoded values and hands encoded
frames to a ``FrameSink``; the transport and the composition root own the rest.
"""

from __future__ import annotations

import asyncio
import enum
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pydantic
import structlog

from ipc_schema.lifecycle import (
    PROTOCOL_VERSION,
    CancelParams,
    Capabilities,
    InitializeOptions,
    InitializeParams,
    InitializeResult,
    RequestMeta,
    ServerInfo,
    SetLogLevelOptions,
    SetLogLevelParams,
)
from sidecar.errors import (
    InvalidParamsError,
    InvalidRequestError,
    MethodNotFoundError,
    RequestCancelledError,
    RequestFailedError,
    ServerNotInitializedError,
    SidecarError,
)
from sidecar.ipc.envelope import (
    FrameEncoder,
    MalformedEnvelopeError,
    Notification,
    Request,
    Response,
    classify,
    error_from,
    error_object,
)
from sidecar.ipc.framing import RejectedMessage
from sidecar.ipc.methods import CallContext, MethodTable

log = structlog.get_logger("sidecar.ipc")

BUILTIN_METHODS = ("initialize", "shutdown", "$/ping")
SENT_NOTIFICATIONS = ("$/progress", "$/log", "$/error")
SHUTDOWN_GRACE_S = 5.0


class SessionState(enum.Enum):
    AWAITING_INITIALIZE = "awaitingInitialize"
    RUNNING = "running"
    SHUT_DOWN = "shutDown"
    CLOSED = "closed"


class FrameSink(Protocol):
    def write(self, frame: bytes) -> None: ...

    async def wait_writable(self) -> None: ...


@dataclass(frozen=True)
class SessionHooks:
    """What the composition root does at lifecycle edges."""

    server_info: Callable[[], ServerInfo]
    import_ms: float
    on_initialize: Callable[[InitializeOptions], None]
    on_set_log_level: Callable[[SetLogLevelOptions], None]
    on_shutdown: Callable[[], Awaitable[None]]
    on_close: Callable[[int, str], None]  # (exit code, reason)


class RpcSession:
    def __init__(
        self, table: MethodTable, sink: FrameSink, hooks: SessionHooks, max_message_bytes: int
    ) -> None:
        self.state = SessionState.AWAITING_INITIALIZE
        self._table = table
        self._sink = sink
        self._hooks = hooks
        self._max_message_bytes = max_message_bytes
        self._encoder = FrameEncoder()
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._shutdown_received = False
        self._closing = False

    # ---- incoming -------------------------------------------------------------------

    def receive(self, value: Any) -> None:
        """Handle one decoded value (or a message the decoder had to skip)."""
        if isinstance(value, RejectedMessage):
            self._reject(value)
            return
        try:
            message = classify(value)
        except MalformedEnvelopeError as exc:
            self._malformed(exc)
            return
        if isinstance(message, Request):
            self._on_request(message)
        elif isinstance(message, Notification):
            self._on_notification(message)
        else:
            self._on_response(message)

    def _reject(self, rejected: RejectedMessage) -> None:
        envelope = rejected.envelope
        log.warning("message_rejected", size=rejected.size, reason=rejected.reason, rpc_id=envelope.msgid)
        error = error_object(InvalidRequestError.rpc_code, rejected.reason, {"size": rejected.size})
        if envelope.kind == 0 and envelope.msgid is not None:
            self._send_response(envelope.msgid, error, None)
        else:
            self.send_notification("$/error", [error])

    def _malformed(self, exc: MalformedEnvelopeError) -> None:
        if exc.msgid is not None:
            self._send_response(exc.msgid, error_from(exc), None)
            return
        # Not even an array: the stream carries something that is not our protocol
        # (e.g. a stray write to the pipe). Nothing after it can be trusted.
        self.fatal(f"stream corrupted: {exc.message}")

    def _on_response(self, response: Response) -> None:
        # This sidecar sends no requests yet, so every response has an unknown id:
        # per the protocol that means the two ends disagree about the stream.
        self.fatal(f"response to unknown request id {response.msgid}")

    # ---- requests -------------------------------------------------------------------

    def _on_request(self, request: Request) -> None:
        method = request.method
        if self.state is SessionState.RUNNING:
            if method == "$/ping":
                self._send_response(request.msgid, None, None)  # answered on the loop, never queued
                return
            if method == "initialize":
                self._send_error(request.msgid, InvalidRequestError("initialize may only be sent once"))
                return
            self._start_call(request)
        elif self.state is SessionState.AWAITING_INITIALIZE:
            if method == "initialize":
                self._initialize(request)
            else:
                self._send_error(
                    request.msgid, ServerNotInitializedError(f"{method}: server not initialized")
                )
        else:
            self._send_error(request.msgid, InvalidRequestError(f"{method}: server is shutting down"))

    def _initialize(self, request: Request) -> None:
        try:
            params = InitializeParams.from_wire(request.params)
        except pydantic.ValidationError as exc:
            self._send_error(request.msgid, _invalid_params(exc))
            return
        options = params.options
        major = options.protocol_version.split(".")[0]
        if major != PROTOCOL_VERSION.split(".")[0]:
            message = (
                f"protocol version {options.protocol_version} is not supported;"
                f" this sidecar speaks {PROTOCOL_VERSION}"
            )
            self._send_error(
                request.msgid, InvalidRequestError(message, data={"supported": PROTOCOL_VERSION})
            )
            self.close(1, "protocol version mismatch")
            return
        self._hooks.on_initialize(options)
        self.state = SessionState.RUNNING
        result = InitializeResult(
            server_info=self._hooks.server_info(),
            protocol_version=PROTOCOL_VERSION,
            capabilities=Capabilities(
                methods=sorted([*BUILTIN_METHODS, *self._table.names()]),
                notifications=list(SENT_NOTIFICATIONS),
                max_message_bytes=self._max_message_bytes,
            ),
            import_ms=self._hooks.import_ms,
        )
        log.info("initialized", client=options.client_info.name if options.client_info else None)
        self._send_response(request.msgid, None, result.to_wire())

    def _start_call(self, request: Request) -> None:
        msgid = request.msgid
        if msgid in self._in_flight:
            self._send_error(msgid, InvalidRequestError(f"request id {msgid} is already in flight"))
            return
        if request.method == "shutdown":
            task = asyncio.get_running_loop().create_task(self._shutdown(msgid), name="shutdown")
        else:
            task = asyncio.get_running_loop().create_task(self._call(request), name=request.method)
        self._in_flight[msgid] = task

    async def _call(self, request: Request) -> None:
        msgid, method = request.msgid, request.method
        structlog.contextvars.bind_contextvars(rpc_id=msgid, method=method)
        started = time.perf_counter()
        error: dict[str, Any] | None = None
        result: Any = None
        try:
            result = await self._dispatch(request)
        except asyncio.CancelledError:
            error = error_from(RequestCancelledError(f"{method}: request cancelled"))
        except SidecarError as exc:
            error = error_from(exc)
        except Exception:
            error_id = uuid.uuid4().hex[:12]
            log.exception("request_failed", error_id=error_id)
            error = error_object(-32603, f"{method}: internal error", {"errorId": error_id})
        finally:
            self._in_flight.pop(msgid, None)
        log.debug("request_done", duration_ms=round((time.perf_counter() - started) * 1000, 3))
        self._send_response(msgid, error, result)
        await self._sink.wait_writable()

    async def _dispatch(self, request: Request) -> Any:
        bound = self._table.get(request.method)
        if bound is None:
            raise MethodNotFoundError(f"method not found: {request.method}", data={"method": request.method})
        args, meta = _split_meta(request.params)
        try:
            params = bound.parse_params(args)
        except pydantic.ValidationError as exc:
            raise _invalid_params(exc) from None
        ctx = CallContext(request.msgid, request.method, meta, self.send_notification)
        return bound.dump_result(await bound.handler(ctx, params))

    async def _shutdown(self, msgid: int) -> None:
        self.state = SessionState.SHUT_DOWN
        self._shutdown_received = True
        log.info("shutdown_requested", in_flight=len(self._in_flight) - 1)
        await self._finish_in_flight(exclude=msgid)
        await self._hooks.on_shutdown()
        self._in_flight.pop(msgid, None)
        self._send_response(msgid, None, None)

    async def _finish_in_flight(self, exclude: int | None = None) -> None:
        tasks = [task for msgid, task in self._in_flight.items() if msgid != exclude]
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_S)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    # ---- notifications --------------------------------------------------------------

    def _on_notification(self, note: Notification) -> None:
        method = note.method
        if method == "exit":
            self.close(0 if self._shutdown_received else 1, "exit notification")
        elif self.state is SessionState.AWAITING_INITIALIZE:
            return  # dropped, as LSP prescribes
        elif method == "$/cancelRequest":
            self._cancel(note.params)
        elif method == "$/setLogLevel":
            self._set_log_level(note.params)
        elif method == "initialized":
            log.debug("client_initialized")
        elif not method.startswith("$/"):
            error = MethodNotFoundError(f"notification not handled: {method}", data={"method": method})
            self.send_notification("$/error", [error_from(error)])

    def _cancel(self, params: list[Any]) -> None:
        try:
            msgid = CancelParams.from_wire(params).request.id
        except pydantic.ValidationError as exc:
            self.send_notification("$/error", [error_from(_invalid_params(exc))])
            return
        task = self._in_flight.get(msgid)
        if task is not None:
            task.cancel()

    def _set_log_level(self, params: list[Any]) -> None:
        try:
            options = SetLogLevelParams.from_wire(params).options
        except pydantic.ValidationError as exc:
            self.send_notification("$/error", [error_from(_invalid_params(exc))])
            return
        self._hooks.on_set_log_level(options)

    # ---- outgoing -------------------------------------------------------------------

    def send_notification(self, method: str, params: list[Any]) -> None:
        if self.state is SessionState.CLOSED:
            return
        self._sink.write(self._encoder.notification(method, params))

    def _send_error(self, msgid: int, exc: SidecarError) -> None:
        self._send_response(msgid, error_from(exc), None)

    def _send_response(self, msgid: int, error: Any, result: Any) -> None:
        try:
            frame = self._encoder.response(msgid, error, result)
        except (TypeError, ValueError, OverflowError) as exc:
            log.error("result_not_encodable", rpc_id=msgid, error=str(exc))
            frame = self._encoder.response(msgid, error_object(-32603, "result could not be encoded"), None)
        if len(frame) > self._max_message_bytes:
            message = f"result of {len(frame)} bytes exceeds the limit of {self._max_message_bytes} bytes"
            frame = self._encoder.response(msgid, error_from(RequestFailedError(message)), None)
        self._sink.write(frame)

    # ---- ending ---------------------------------------------------------------------

    def connection_lost(self) -> None:
        """stdin reached EOF: the editor is gone or closed the pipe."""
        self.close(0 if self._shutdown_received else 1, "stdin closed")

    def fatal(self, reason: str) -> None:
        if self._closing:
            return  # the rest of a corrupt chunk decodes into more junk: one report is enough
        log.critical("protocol_fatal", reason=reason)
        self.close(1, reason)

    def close(self, code: int, reason: str) -> None:
        """Cancel everything in flight and tell the composition root to exit with ``code``."""
        if self._closing:
            return
        self._closing = True
        for task in self._in_flight.values():
            task.cancel()
        self.state = SessionState.CLOSED
        self._hooks.on_close(code, reason)

    @property
    def shutdown_received(self) -> bool:
        return self._shutdown_received

    def in_flight_methods(self) -> list[str]:
        return sorted({task.get_name() for task in self._in_flight.values()})


def _split_meta(params: list[Any]) -> tuple[list[Any], RequestMeta]:
    """Strip a trailing ``{"$meta": {...}}`` argument (see ipc_schema.lifecycle.RequestMeta)."""
    if params and isinstance(params[-1], dict) and len(params[-1]) == 1 and "$meta" in params[-1]:
        try:
            return params[:-1], RequestMeta.model_validate(params[-1]["$meta"])
        except pydantic.ValidationError as exc:
            raise _invalid_params(exc) from None
    return params, _NO_META


_NO_META = RequestMeta()


def _invalid_params(exc: pydantic.ValidationError) -> InvalidParamsError:
    # "input" may be large or hold secrets; the caller has it anyway.
    errors = [
        {key: value for key, value in error.items() if key != "input"}
        for error in exc.errors(include_url=False, include_context=False)
    ]
    return InvalidParamsError(f"invalid params: {exc.error_count()} error(s)", data=errors)
