"""The editor's security channels: arguments and results.

The permissions policy (``security.json``) travels as a plain map, validated strictly by the backend's
security service, which names every bad key:
``{version: 1, devOpen, collections: {<name>: <Parse CLP rules>}, functions: {<name>: {call, timeoutMs}}}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ipc_schema.base import PositionalParams, WireModel

JsonObject = dict[str, Any]

# ---- values --------------------------------------------------------------------------------


class AccessResult(WireModel):
    allowed: bool
    reason: str


class Role(WireModel):
    object_id: str
    name: str
    users: list[str] = Field(description="User ids of the direct members.")
    created_at: str | None = None


class RoleList(WireModel):
    roles: list[Role]


class RoleDeleted(WireModel):
    deleted: bool
    name: str


class ApiKeyInfo(WireModel):
    object_id: str
    name: str
    scopes: list[str]
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: str
    acts_as_user_id: str | None = None
    revoked: bool
    revoked_at: str | None = None


class CreatedApiKey(ApiKeyInfo):
    key: str = Field(description="The key itself: returned by this call only, never stored in clear.")


class ApiKeyList(WireModel):
    keys: list[ApiKeyInfo]


# ---- params (argument arrays) ----------------------------------------------------------------


class SetPermissionsParams(PositionalParams):
    backend_id: str
    config: JsonObject = Field(description="The whole policy: {version?, devOpen, collections, functions}.")


class CollectionPermissionsParams(PositionalParams):
    backend_id: str
    collection: str
    rules: JsonObject = Field(description="Parse class-level permissions: {find, get, …, protectedFields}.")


class CollectionNameParams(PositionalParams):
    backend_id: str
    collection: str


class CheckAccessParams(PositionalParams):
    backend_id: str
    query: JsonObject = Field(
        description="{collection, operation, userId?, roles?} or {function, userId?, roles?}."
    )


class RoleParams(PositionalParams):
    backend_id: str
    name: str


class RoleUserParams(PositionalParams):
    backend_id: str
    role: str
    user_id: str


class ApiKeyOptions(WireModel):
    acts_as_user_id: str | None = None


class CreateApiKeyParams(PositionalParams):
    backend_id: str
    name: str
    scopes: list[str] = Field(description="data:read, data:write, functions:call or functions:<name>.")
    options: ApiKeyOptions = Field(default_factory=ApiKeyOptions)


class ApiKeyIdParams(PositionalParams):
    backend_id: str
    key_object_id: str
