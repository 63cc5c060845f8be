"""Handlers for the editor's channels, grouped by the service they call."""

from sidecar.ipc.handlers.system import register_system_methods

__all__ = ["register_system_methods"]
