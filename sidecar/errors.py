"""One exception tree for the whole sidecar; each error knows its wire codes.

    SidecarError                      base: internal error everywhere
    ├── ProtocolError                 msgpack-RPC protocol faults (JSON-RPC/LSP codes)
    │   ├── ParseError                -32700 undecodable bytes
    │   ├── InvalidRequestError       -32600 malformed envelope, request after shutdown, oversized message
    │   ├── MethodNotFoundError       -32601
    │   ├── InvalidParamsError        -32602 (data = pydantic's error list)
    │   ├── ServerNotInitializedError -32002
    │   └── RequestCancelledError     -32800
    └── RequestFailedError            -32803 an understood request that cannot be done
        └── NotAvailableYetError      a channel whose capability has not landed yet

The doors translate these into their wire shapes; this module imports nothing so any
layer may raise them.
"""

from __future__ import annotations

from typing import Any


class SidecarError(Exception):
    """Base of every error the sidecar raises on purpose."""

    rpc_code: int = -32603
    http_status: int = 500

    def __init__(self, message: str, *, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class ProtocolError(SidecarError):
    """A fault of the msgpack-RPC conversation itself."""


class ParseError(ProtocolError):
    rpc_code = -32700


class InvalidRequestError(ProtocolError):
    rpc_code = -32600
    http_status = 400


class MethodNotFoundError(ProtocolError):
    rpc_code = -32601
    http_status = 404


class InvalidParamsError(ProtocolError):
    rpc_code = -32602
    http_status = 400


class ServerNotInitializedError(ProtocolError):
    rpc_code = -32002


class RequestCancelledError(ProtocolError):
    rpc_code = -32800


class RequestFailedError(SidecarError):
    """The request was understood but cannot be carried out (e.g. the backend is stopped)."""

    rpc_code = -32803
    http_status = 400


class NotAvailableYetError(RequestFailedError):
    """A channel whose capability belongs to a part of the sidecar that has not landed."""

    def __init__(self, capability: str) -> None:
        super().__init__(f"not available yet: {capability}", data={"capability": capability})
