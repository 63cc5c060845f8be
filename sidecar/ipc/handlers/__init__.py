"""Handlers for the editor's channels, grouped by the service they call."""

from sidecar.ipc.handlers.backends import register_backend_methods
from sidecar.ipc.handlers.credentials import register_credential_methods
from sidecar.ipc.handlers.debugging import register_debugging_methods
from sidecar.ipc.handlers.deploy import register_deploy_methods
from sidecar.ipc.handlers.diagnostics import diagnostics_enabled, register_diagnostic_methods
from sidecar.ipc.handlers.github import register_github_methods
from sidecar.ipc.handlers.history import register_history_methods
from sidecar.ipc.handlers.migrate import register_migrate_methods
from sidecar.ipc.handlers.monitoring import register_monitoring_methods
from sidecar.ipc.handlers.python import register_python_methods
from sidecar.ipc.handlers.runtime import register_runtime_methods
from sidecar.ipc.handlers.security import register_security_methods
from sidecar.ipc.handlers.system import register_system_methods
from sidecar.ipc.handlers.triggers import register_trigger_methods

__all__ = [
    "diagnostics_enabled",
    "register_backend_methods",
    "register_credential_methods",
    "register_debugging_methods",
    "register_deploy_methods",
    "register_diagnostic_methods",
    "register_github_methods",
    "register_history_methods",
    "register_migrate_methods",
    "register_monitoring_methods",
    "register_python_methods",
    "register_runtime_methods",
    "register_security_methods",
    "register_system_methods",
    "register_trigger_methods",
]
