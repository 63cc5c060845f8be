"""The msgpack-RPC protocol contract between the OpenNoodl editor and noodl-sidecar."""

from ipc_schema.base import NoParams, PositionalParams, WireModel
from ipc_schema.catalog import METHODS, NOTIFICATIONS, Direction, MethodSpec, NotificationSpec
from ipc_schema.lifecycle import PROTOCOL_VERSION

__all__ = [
    "METHODS",
    "NOTIFICATIONS",
    "PROTOCOL_VERSION",
    "Direction",
    "MethodSpec",
    "NoParams",
    "NotificationSpec",
    "PositionalParams",
    "WireModel",
]
