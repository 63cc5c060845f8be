"""Methods about the graph runtime."""

from __future__ import annotations

from ipc_schema.runtime import NodeLibraryParams, NodeType
from sidecar import preload
from sidecar.ipc.methods import CallContext, MethodTable


def register_runtime_methods(table: MethodTable) -> None:
    @table.method("runtime:nodeLibrary")
    async def node_library(_ctx: CallContext, params: NodeLibraryParams) -> list[NodeType]:
        await preload.services_loaded()  # the runtime loads after the handshake, once
        from sidecar.runtime.library import node_library

        return [NodeType.model_validate(entry) for entry in node_library(params.language)]
