"""The credential channels: each answers what the matching ``/admin/credentials`` route answers.

Credentials are files of the backend's folder, so these work whether the backend runs or not.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ipc_schema import backends as b
from sidecar.backends.manager import BackendManager
from sidecar.credentials import CredentialStore
from sidecar.ipc.methods import CallContext, MethodTable
from sidecar.lazy import LazyModule

# Models of channels a session may never call: imported on first use (ipc_schema.deferred).
if TYPE_CHECKING:
    from ipc_schema import credentials as c
else:
    c = LazyModule("ipc_schema.credentials")


def register_credential_methods(table: MethodTable, manager: BackendManager) -> None:
    def store(backend_id: str) -> CredentialStore:
        manager.registry.require(backend_id)
        return CredentialStore(manager.registry.data_dir(backend_id))

    @table.method("credentials:create")
    async def create(_ctx: CallContext, params: c.CreateCredentialParams) -> c.CredentialInfo:
        new = params.credential
        credentials = store(params.backend_id)
        # In a thread, as the other calls here: reaching the key may mean asking an OS keyring.
        info = await asyncio.to_thread(
            credentials.create, new.name, new.value, new.provider, replace=new.replace
        )
        return c.CredentialInfo.model_validate(info.to_wire())

    @table.method("credentials:list")
    async def list_credentials(_ctx: CallContext, params: b.BackendIdParams) -> c.CredentialList:
        found = [info.to_wire() for info in await asyncio.to_thread(store(params.backend_id).list)]
        return c.CredentialList.model_validate({"credentials": found})

    @table.method("credentials:test")
    async def test(_ctx: CallContext, params: c.CredentialNameParams) -> c.CredentialTestResult:
        return c.CredentialTestResult.model_validate(await store(params.backend_id).test(params.name))

    @table.method("credentials:delete")
    async def delete(_ctx: CallContext, params: c.CredentialNameParams) -> c.CredentialDeleted:
        deleted = await asyncio.to_thread(store(params.backend_id).delete, params.name)
        return c.CredentialDeleted.model_validate(deleted)
