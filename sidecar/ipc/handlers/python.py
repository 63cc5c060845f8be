"""The Python channels: a backend's custom node packs (``python:nodes``) and packages (``python:install``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sidecar.backends.manager import BackendManager
from sidecar.ipc.methods import CallContext, MethodTable
from sidecar.lazy import LazyModule

# Models of channels a session may never call: imported on first use (ipc_schema.deferred).
if TYPE_CHECKING:
    from ipc_schema import python as py
else:
    py = LazyModule("ipc_schema.python")


def register_python_methods(table: MethodTable, manager: BackendManager) -> None:
    @table.method("python:nodes")
    async def nodes(_ctx: CallContext, params: py.PythonBackendParams) -> py.PythonNodes:
        backend = manager.running(params.backend_id, "list its Python nodes")
        packs = await backend.packs()
        return py.PythonNodes.model_validate(packs.listing())

    @table.method("python:install")
    async def install(ctx: CallContext, params: py.PythonBackendParams) -> py.PythonInstalled:
        from sidecar.backends.python_packages import install_requirements

        manager.registry.require(params.backend_id)
        ctx.progress("begin", title="Install Python packages")
        try:
            result = await install_requirements(
                manager.registry.data_dir(params.backend_id),
                on_line=lambda line: ctx.progress("report", message=line),
            )
        finally:
            ctx.progress("end")
        running = [
            backend for backend in manager.running_backends() if backend.backend_id == params.backend_id
        ]
        for backend in running:  # its workers import the new packages from their next call on
            pool = backend.python.peek() if backend.python is not None else None
            if result.ok and pool is not None:
                pool.recycle()
            if result.ok and backend.python_packs is not None:
                backend.python_packs.forget()
                await backend.python_packs.refresh()
        return py.PythonInstalled(
            ok=result.ok,
            target=str(result.target),
            log_file=str(result.log_file),
            exit_code=result.exit_code,
            packages=result.packages,
        )
