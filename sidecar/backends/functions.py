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
from sidecar.lazy import Lazy

CLOUD_PREFIX = "/#__cloud__/"
REQUEST_TYPE = "noodl.cloud.request"

if TYPE_CHECKING:
    from sidecar.backends.backend import Backend
    from sidecar.history import RunRecorder, RunTrigger
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
    """What every bundle of one backend shares: one JavaScript engine, the store, the config, and the
    pool of Python workers (working in the backend's ``python-scratch``). The engine and the pool are
    made when the first bundle is loaded: a backend without functions loads neither."""

    js: Lazy[Any]
    records: Any
    config: ConfigFile
    python: Lazy[Any] | None = None
    ai: Any = None
    node_types: Any = None  # the built-in library and the backend's Python node packs (python_packs)


class BundleRuntime:
    """A runtime for one workflow bundle, with the name listing the backend needs."""

    def __init__(self, export: Any, services: RuntimeServices) -> None:
        from sidecar.runtime.runtime import Runtime

        self.runtime = Runtime.from_export(
            export,
            js=services.js.get(),
            records=services.records,
            config=services.config,
            python=services.python.get() if services.python is not None else None,
            ai=services.ai,
            node_types=services.node_types,
        )

    def has_function(self, name: str) -> bool:
        return self.runtime.has_function(name)

    def function_names(self) -> list[str]:
        return self.runtime.export.function_names()

    def language(self, name: str) -> str:
        """Function ``name``'s workflow language (``javascript`` unless its metadata says ``python``)."""
        from sidecar.runtime.language import workflow_language

        export = self.runtime.export
        return workflow_language(export, export.components[CLOUD_PREFIX + name])

    def deploy_problems(self) -> list[DeployProblem]:
        """What would break this bundle's functions (checked before a deploy replaces anything)."""
        from sidecar.runtime.deploy_check import check_export

        services = self.runtime.services
        return list(check_export(self.runtime.export, services.js, services.node_types))


def python_pool(data_dir: Path, backend_id: str, ephemeral: bool) -> Any:
    """The backend's pool of Python workers; no process starts until a Python node runs.

    Workers work in ``python-scratch`` of the data directory; an ephemeral backend, which keeps
    nothing in its data directory, gets a scratch folder under the system's temporary directory."""
    import tempfile

    from sidecar.backends.python_packages import PACKAGES_DIR
    from sidecar.python_runtime import PythonPool

    packages = (data_dir / PACKAGES_DIR,)
    if ephemeral:
        scratch = Path(tempfile.gettempdir()) / f"noodl-sidecar-python-{backend_id}"
        return PythonPool(scratch, import_paths=packages)
    return PythonPool(data_dir / "python-scratch", import_paths=packages)


def ai_port(backend: Backend) -> Any:
    """The AI nodes' port: the backend's credentials, its ``ai`` data folder (a temporary one for an
    ephemeral backend), and its functions as an agent's tools."""
    from sidecar.ai.port import BackendAiPort, scratch_data_dir

    spec = backend.spec
    folder = scratch_data_dir(spec.backend_id) if spec.ephemeral else spec.data_dir / "ai"

    async def call(name: str, body: str) -> tuple[int, str]:
        response = await invoke(backend, name, body, {"content-type": "application/json"})
        return response.status_code, response.body

    return BackendAiPort(spec.data_dir, folder, call)


def js_engine() -> Any:
    """A backend's JavaScript engine (QuickJS), the factory of ``RuntimeServices.js``."""
    from sidecar.runtime.jsengine import JsEngine

    return JsEngine()


def make_workflow_set(
    data_dir: Path, store: Any, python: Lazy[Any] | None = None, ai: Any = None, node_types: Any = None
) -> WorkflowSet:
    from sidecar.backends.records_port import StoreRecordsPort

    services = RuntimeServices(
        js=Lazy(js_engine),
        records=StoreRecordsPort(store) if store is not None else None,
        config=ConfigFile(data_dir / "config-params.json"),
        python=python,
        ai=ai,
        node_types=node_types,
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


async def invoke_recorded(
    backend: Backend,
    name: str,
    body: str,
    headers: dict[str, str],
    trigger: RunTrigger | None = None,
    debug: Any = None,
) -> tuple[FunctionResponse, str | None]:
    """:func:`invoke`, also answering the new run's execution id (None when history is off).
    ``debug``: a test run's ``sidecar.debugging.session.DebugSession``; production callers pass none."""
    bundle = find_bundle(backend, name)
    recorder = _recorder(backend, bundle, name, trigger)
    response = await _run(backend, bundle, name, body, headers, recorder, debug)
    return response, None if recorder is None else recorder.execution_id


async def run_bundle(
    backend: Backend,
    bundle: BundleRuntime,
    name: str,
    body: str,
    headers: dict[str, str],
    trigger: RunTrigger | None = None,
) -> FunctionResponse:
    """Run function ``name`` of a bundle already found (the door looks it up once for its access check)."""
    return await _run(backend, bundle, name, body, headers, _recorder(backend, bundle, name, trigger))


def _recorder(
    backend: Backend, bundle: BundleRuntime, name: str, trigger: RunTrigger | None
) -> RunRecorder | None:
    if backend.history is None:
        return None
    recorder: RunRecorder | None = backend.history.recorder_for(trigger, language=bundle.language(name))
    return recorder


async def _run(
    backend: Backend,
    bundle: BundleRuntime,
    name: str,
    body: str,
    headers: dict[str, str],
    recorder: RunRecorder | None,
    debug: Any = None,
) -> FunctionResponse:
    """The run, registered by execution id while it runs so ``execution:cancel`` can stop it."""
    from sidecar.runtime.context import NoodlRequest

    timeout = backend.security.function_timeout_seconds(name) if backend.security is not None else None
    request = NoodlRequest(headers=headers, body=body)
    if recorder is None:
        return await bundle.runtime.run(name, request, timeout_seconds=timeout, debug=debug)
    running = backend.running
    if debug is not None:
        debug.on_pause = recorder.publish_paused
    try:
        return await bundle.runtime.run(
            name,
            request,
            recorder=recorder,
            timeout_seconds=timeout,
            on_start=running.watcher(recorder),
            debug=debug,
        )
    finally:
        running.ended(recorder)


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
