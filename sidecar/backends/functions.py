"""Cloud functions of a backend: runtimes built over the backend's store, and the invoker.

``Backend.invoke`` is the single path every caller takes: ``POST /functions/:name``,
the IPC method ``function:run`` and trigger firings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sidecar.backends.workflows import DeployProblem, WorkflowSet
from sidecar.errors import FunctionNotFoundError, OperationForbiddenError, WorkflowsStartingError

CLOUD_PREFIX = "/#__cloud__/"
REQUEST_TYPE = "noodl.cloud.request"

if TYPE_CHECKING:
    from sidecar.backends.backend import Backend
    from sidecar.history import RunTrigger
    from sidecar.runtime.context import FunctionResponse
    from sidecar.web.services import FunctionRequest


class ConfigFile:
    """The runtime's ``ConfigPort`` over ``config-params.json`` (what ``GET /config`` serves)."""

    def __init__(self, path: Path) -> None:
        from sidecar.web.configparams import ConfigParams

        self._params = ConfigParams(path)

    async def get_config(self) -> dict[str, Any]:
        return await self._params.read()


@dataclass(frozen=True)
class RuntimeServices:
    """What every bundle of one backend shares: one JavaScript engine, the store, the config."""

    js: Any
    records: Any
    config: ConfigFile


class BundleRuntime:
    """A runtime for one workflow bundle, with the name listing the backend needs."""

    def __init__(self, export: Any, services: RuntimeServices) -> None:
        from sidecar.runtime.runtime import Runtime

        self.runtime = Runtime.from_export(
            export, js=services.js, records=services.records, config=services.config
        )

    def has_function(self, name: str) -> bool:
        return self.runtime.has_function(name)

    def function_names(self) -> list[str]:
        return self.runtime.export.function_names()

    def deploy_problems(self) -> list[DeployProblem]:
        """What would break this bundle's functions (checked before a deploy replaces anything)."""
        from sidecar.runtime.deploy_check import check_export

        services = self.runtime.services
        return list(check_export(self.runtime.export, services.js, services.node_types))


def make_workflow_set(data_dir: Path, store: Any) -> WorkflowSet:
    from sidecar.backends.records_port import StoreRecordsPort
    from sidecar.runtime.jsengine import JsEngine

    services = RuntimeServices(
        js=JsEngine(),
        records=StoreRecordsPort(store) if store is not None else None,
        config=ConfigFile(data_dir / "config-params.json"),
    )
    return WorkflowSet(data_dir / "workflows", lambda export: BundleRuntime(export, services))


def find_bundle(backend: Backend, name: str) -> BundleRuntime:
    workflows = backend.workflows
    if workflows is None or not workflows.initialized:
        raise WorkflowsStartingError()
    bundle = workflows.find(name)
    if not isinstance(bundle, BundleRuntime):
        raise FunctionNotFoundError.for_function(name)
    return bundle


def allows_anonymous(bundle: BundleRuntime, name: str) -> bool:
    """True when the function's Request node says ``allowNoAuth`` (searched through children too)."""
    component = bundle.runtime.export.components[CLOUD_PREFIX + name]
    nodes = component.walk_nodes()
    return any(node.type == REQUEST_TYPE and node.parameters.get("allowNoAuth") is True for node in nodes)


async def invoke(
    backend: Backend, name: str, body: str, headers: dict[str, str], trigger: RunTrigger | None = None
) -> FunctionResponse:
    """Run function ``name``; the run is recorded in the backend's history (``webhook`` by default)."""
    return await run_bundle(backend, find_bundle(backend, name), name, body, headers, trigger)


async def run_bundle(
    backend: Backend,
    bundle: BundleRuntime,
    name: str,
    body: str,
    headers: dict[str, str],
    trigger: RunTrigger | None = None,
) -> FunctionResponse:
    """Run function ``name`` of a bundle already found (the door looks it up once for its access check)."""
    from sidecar.runtime.context import NoodlRequest

    recorder = backend.history.recorder_for(trigger) if backend.history is not None else None
    timeout = backend.security.function_timeout_seconds(name) if backend.security is not None else None
    request = NoodlRequest(headers=headers, body=body)
    return await bundle.runtime.run(name, request, recorder=recorder, timeout_seconds=timeout)


class FunctionHost:
    """The web door's ``FunctionInvoker`` for one backend."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    async def invoke(self, name: str, request: FunctionRequest) -> tuple[int, str]:
        """Who may call (docs/security.md): admin always, an API key by its scopes, then security.json,
        then the Request."""
        bundle = find_bundle(self._backend, name)
        decision = self._backend.security.function_access(
            name, request.caller, lambda: allows_anonymous(bundle, name)
        )
        if not decision.allowed:
            raise OperationForbiddenError(f'Permission denied: function "{name}": {decision.reason}.')
        response = await run_bundle(self._backend, bundle, name, request.body, dict(request.headers))
        return response.status_code, response.body  # the run's own answer (sidecar.runtime.answers)
