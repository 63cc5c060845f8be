"""Cloud functions of a backend: runtimes built over the backend's store, and the invoker.

``Backend.invoke`` is the single path every caller takes: ``POST /functions/:name``,
the IPC method ``function:run`` and trigger firings.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sidecar.backends.records_port import StoreRecordsPort
from sidecar.backends.workflows import WorkflowSet
from sidecar.errors import FunctionNotFoundError, RequestFailedError

if TYPE_CHECKING:
    from sidecar.backends.backend import Backend
    from sidecar.runtime.context import FunctionResponse
    from sidecar.web.services import FunctionRequest


class BundleRuntime:
    """A runtime for one workflow bundle, with the name listing the backend needs."""

    def __init__(self, export: Any, records: StoreRecordsPort | None) -> None:
        from sidecar.runtime.runtime import Runtime

        self.runtime = Runtime.from_export(export, records=records)

    def has_function(self, name: str) -> bool:
        return self.runtime.has_function(name)

    def function_names(self) -> list[str]:
        return self.runtime.export.function_names()


def make_workflow_set(folder: Path, store: Any) -> WorkflowSet:
    records = StoreRecordsPort(store) if store is not None else None
    return WorkflowSet(folder, lambda export: BundleRuntime(export, records))


async def invoke(backend: Backend, name: str, body: str, headers: dict[str, str]) -> FunctionResponse:
    from sidecar.runtime.context import NoodlRequest

    workflows = backend.workflows
    if workflows is None or not workflows.initialized:
        raise RequestFailedError("Workflows are still starting up", data={"httpStatus": 503})
    bundle = workflows.find(name)
    if not isinstance(bundle, BundleRuntime):
        raise FunctionNotFoundError(f"Function '{name}' not found")
    return await bundle.runtime.run(name, NoodlRequest(headers=headers, body=body))


class FunctionHost:
    """The web door's ``FunctionInvoker`` for one backend."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    async def invoke(self, name: str, request: FunctionRequest) -> tuple[int, str]:
        response = await invoke(self._backend, name, request.body, dict(request.headers))
        return response.status_code, response.body
