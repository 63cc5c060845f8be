"""The editor's security channels: permissions, access checks, roles and API keys of a running backend.

Each answers exactly what the matching ``/admin/permissions``, ``/admin/roles`` or ``/admin/keys``
route answers: both call the backend's security service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ipc_schema import backends as b
from sidecar.backends.manager import BackendManager
from sidecar.ipc.methods import CallContext, MethodTable
from sidecar.lazy import LazyModule

# Models of channels a session may never call: imported on first use (ipc_schema.deferred).
if TYPE_CHECKING:
    from ipc_schema import security as s
else:
    s = LazyModule("ipc_schema.security")


def register_security_methods(table: MethodTable, manager: BackendManager) -> None:
    def security(backend_id: str, action: str) -> Any:
        return manager.running(backend_id, action).security

    _register_permissions(table, security)
    _register_roles(table, security)
    _register_keys(table, security)


def _register_permissions(table: MethodTable, security: Any) -> None:
    @table.method("backend:getPermissions")
    async def get_permissions(_ctx: CallContext, params: b.BackendIdParams) -> dict[str, Any]:
        policy: dict[str, Any] = security(params.backend_id, "read its permissions").get_permissions()
        return policy

    @table.method("backend:setPermissions")
    async def set_permissions(_ctx: CallContext, params: s.SetPermissionsParams) -> dict[str, Any]:
        service = security(params.backend_id, "change its permissions")
        policy: dict[str, Any] = await service.set_permissions(params.config)
        return policy

    @table.method("backend:setCollectionPermissions")
    async def set_collection(_ctx: CallContext, params: s.CollectionPermissionsParams) -> dict[str, Any]:
        service = security(params.backend_id, "change collection permissions")
        policy: dict[str, Any] = await service.set_collection_permissions(params.collection, params.rules)
        return policy

    @table.method("backend:resetCollectionPermissions")
    async def reset_collection(_ctx: CallContext, params: s.CollectionNameParams) -> dict[str, Any]:
        service = security(params.backend_id, "reset collection permissions")
        policy: dict[str, Any] = await service.reset_collection_permissions(params.collection)
        return policy

    @table.method("backend:checkAccess")
    async def check_access(_ctx: CallContext, params: s.CheckAccessParams) -> s.AccessResult:
        service = security(params.backend_id, "check access")
        return s.AccessResult.model_validate(await service.check_access(params.query))


def _register_roles(table: MethodTable, security: Any) -> None:
    @table.method("backend:listRoles")
    async def list_roles(_ctx: CallContext, params: b.BackendIdParams) -> s.RoleList:
        found = await security(params.backend_id, "list roles").list_roles()
        return s.RoleList.model_validate({"roles": found})

    @table.method("backend:createRole")
    async def create_role(_ctx: CallContext, params: s.RoleParams) -> s.Role:
        return s.Role.model_validate(
            await security(params.backend_id, "create a role").create_role(params.name)
        )

    @table.method("backend:deleteRole")
    async def delete_role(_ctx: CallContext, params: s.RoleParams) -> s.RoleDeleted:
        deleted = await security(params.backend_id, "delete a role").delete_role(params.name)
        return s.RoleDeleted.model_validate(deleted)

    @table.method("backend:addRoleUser")
    async def add_user(_ctx: CallContext, params: s.RoleUserParams) -> s.Role:
        service = security(params.backend_id, "add a user to a role")
        return s.Role.model_validate(await service.add_role_user(params.role, params.user_id))

    @table.method("backend:removeRoleUser")
    async def remove_user(_ctx: CallContext, params: s.RoleUserParams) -> s.Role:
        service = security(params.backend_id, "remove a user from a role")
        return s.Role.model_validate(await service.remove_role_user(params.role, params.user_id))


def _register_keys(table: MethodTable, security: Any) -> None:
    @table.method("backend:listApiKeys")
    async def list_keys(_ctx: CallContext, params: b.BackendIdParams) -> s.ApiKeyList:
        keys = security(params.backend_id, "list API keys").list_api_keys()
        return s.ApiKeyList.model_validate({"keys": keys})

    @table.method("backend:createApiKey")
    async def create_key(_ctx: CallContext, params: s.CreateApiKeyParams) -> s.CreatedApiKey:
        service = security(params.backend_id, "create an API key")
        created = await service.create_api_key(params.name, params.scopes, params.options.acts_as_user_id)
        return s.CreatedApiKey.model_validate(created)

    @table.method("backend:revokeApiKey")
    async def revoke_key(_ctx: CallContext, params: s.ApiKeyIdParams) -> s.ApiKeyInfo:
        revoked = security(params.backend_id, "revoke an API key").revoke_api_key(params.key_object_id)
        return s.ApiKeyInfo.model_validate(revoked)
