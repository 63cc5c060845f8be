"""Handlers for the editor's channels, grouped by the service they call."""

from sidecar.ipc.handlers.diagnostics import diagnostics_enabled, register_diagnostic_methods
from sidecar.ipc.handlers.system import register_system_methods

__all__ = ["diagnostics_enabled", "register_diagnostic_methods", "register_system_methods"]
