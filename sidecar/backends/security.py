"""The security service of one backend: the permissions policy, access checks, roles and API keys.

Both doors call it: the IPC channels (``backend:getPermissions`` …) and ``/admin/permissions``,
``/admin/roles``, ``/admin/keys``; the function invoker asks it who may call a function and for how
long, and the web door resolves ``X-NodeGX-Api-Key`` through it (:meth:`caller_for_api_key`).

``security.json`` is the source of truth for collection rules: at every start they are applied again
as the store's class-level permissions, so the file and the store agree even after an edit by hand.
A change is applied to the store first (the store may still refuse it), then written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import structlog

from sidecar.backends import roles
from sidecar.backends.access import AccessDecision, collection_decision, function_decision
from sidecar.backends.api_keys import ApiKeyRing, validate_scopes
from sidecar.backends.security_policy import (
    OPERATIONS,
    CollectionRules,
    SecurityPolicy,
    load_policy,
    parse_collection_rules,
    parse_policy,
    save_policy,
)
from sidecar.errors import InvalidApiKeyError, InvalidClassNameError, InvalidSecurityPolicyError

log = structlog.get_logger("sidecar.backends.security")

_QUERY_KEYS = frozenset({"collection", "operation", "function", "userId", "roles"})

AllowsNoAuth = Callable[[str], bool]
"""Whether function ``name``'s Request node accepts unauthenticated calls."""


def _no_function_is_public(_name: str) -> bool:
    return False


def _master() -> Any:
    from sidecar.store import CallerContext

    return CallerContext.master()


def effective_clp(rules: Mapping[str, Any]) -> dict[str, Any]:
    """Parse's open defaults, overridden by the operations the rules name."""
    from sidecar.store.schema import default_clp

    return {**default_clp(), **rules}


class SecurityService:
    def __init__(
        self,
        data_dir: Path,
        store: Any,
        policy: SecurityPolicy,
        keys: ApiKeyRing,
        *,
        loopback: bool = True,
        allows_no_auth: AllowsNoAuth = _no_function_is_public,
    ) -> None:
        self._data_dir = data_dir
        self._store = store
        self._policy = policy
        self._keys = keys
        self._loopback = loopback
        self._allows_no_auth = allows_no_auth
        # Policy changes apply to the store, then write the file: one at a time keeps both in step.
        self._changing = asyncio.Lock()

    @classmethod
    async def open(
        cls,
        data_dir: Path,
        store: Any,
        *,
        loopback: bool = True,
        allows_no_auth: AllowsNoAuth = _no_function_is_public,
    ) -> SecurityService:
        """Load both files (an unreadable one refuses the start) and apply the collection rules.
        ``allows_no_auth(name)`` reads a function's Request node (for ``checkAccess``)."""
        policy = load_policy(data_dir, loopback=loopback)
        keys = ApiKeyRing.open(data_dir)
        service = cls(data_dir, store, policy, keys, loopback=loopback, allows_no_auth=allows_no_auth)
        service._check_dev_open(policy)
        for name, rules in policy.collections.items():
            await service._apply(name, rules)
        return service

    @property
    def policy(self) -> SecurityPolicy:
        return self._policy

    # ---- the policy ------------------------------------------------------------------------

    def get_permissions(self) -> dict[str, Any]:
        return self._policy.to_json()

    async def set_permissions(self, raw: Any) -> dict[str, Any]:
        """Replace the whole policy; collections it no longer names go back to Parse's defaults."""
        policy = parse_policy(raw)
        self._check_dev_open(policy)
        async with self._changing:
            for name in set(self._policy.collections) - set(policy.collections):
                await self._apply(name, {})
            for name, rules in policy.collections.items():
                await self._apply(name, rules)
            return self._commit(policy)

    async def set_collection_permissions(self, collection: Any, rules: Any) -> dict[str, Any]:
        name, parsed = parse_collection_rules(collection, rules)
        async with self._changing:
            await self._apply(name, parsed)
            collections = {**self._policy.collections, name: parsed}
            return self._commit(replace(self._policy, collections=collections))

    async def reset_collection_permissions(self, collection: Any) -> dict[str, Any]:
        name, _ = parse_collection_rules(collection, {})
        async with self._changing:
            await self._apply(name, {})
            remaining = {key: value for key, value in self._policy.collections.items() if key != name}
            return self._commit(replace(self._policy, collections=remaining))

    def _commit(self, policy: SecurityPolicy) -> dict[str, Any]:
        save_policy(self._data_dir, policy)
        self._policy = policy
        log.info("security_policy_saved", collections=len(policy.collections), dev_open=policy.dev_open)
        return policy.to_json()

    def _check_dev_open(self, policy: SecurityPolicy) -> None:
        if policy.dev_open and not self._loopback:
            raise InvalidSecurityPolicyError(["devOpen: only a loopback-bound backend may be dev-open"])

    async def _apply(self, collection: str, rules: CollectionRules) -> None:
        clp = effective_clp(rules)
        try:
            await self._store.update_class(collection, {"classLevelPermissions": clp})
        except InvalidClassNameError:
            if not rules:
                return  # resetting a collection that does not exist yet: nothing to do
            await self._store.create_class(collection, {"classLevelPermissions": clp})

    # ---- access ----------------------------------------------------------------------------

    def function_access(self, name: str, caller: Any, allows_no_auth: Callable[[], bool]) -> AccessDecision:
        return function_decision(self._policy, name, caller, allows_no_auth)

    def function_timeout_seconds(self, name: str) -> float | None:
        """The function's own limit (0 = none); ``None`` keeps the runtime's default."""
        timeout_ms = self._policy.function_rule(name).timeout_ms
        return None if timeout_ms is None else timeout_ms / 1000

    async def check_access(self, query: Any) -> dict[str, Any]:
        """``{collection, operation, userId?, roles?}`` or ``{function, userId?, roles?}`` →
        ``{allowed, reason}``; ``roles`` default to the roles the user holds."""
        if not isinstance(query, Mapping):
            raise InvalidSecurityPolicyError(["query: must be an object"])
        _check_query(query)
        caller = await self._caller_for(query.get("userId"), query.get("roles"))
        if "function" in query:
            name = str(query["function"])
            return self.function_access(name, caller, lambda: self._allows_no_auth(name)).to_wire()
        collection, operation = str(query["collection"]), str(query["operation"])
        return collection_decision(await self._clp_of(collection), operation, caller, collection).to_wire()

    async def _caller_for(self, user_id: Any, held: Any) -> Any:
        from sidecar.store import CallerContext

        if user_id is None:
            return CallerContext.anonymous()
        names = frozenset(held) if held is not None else await roles.roles_of_user(self._store, user_id)
        return CallerContext.user(user_id, names)

    async def _clp_of(self, collection: str) -> Mapping[str, Any]:
        try:
            schema = await self._store.get_schema(collection)
        except InvalidClassNameError:
            return effective_clp(self._policy.collections.get(collection, {}))
        clp: Mapping[str, Any] = schema.get("classLevelPermissions") or {}
        return clp

    # ---- roles -----------------------------------------------------------------------------

    async def list_roles(self) -> list[dict[str, Any]]:
        return await roles.list_roles(self._store)

    async def create_role(self, name: str) -> dict[str, Any]:
        return await roles.create_role(self._store, name)

    async def delete_role(self, name: str) -> dict[str, Any]:
        return await roles.delete_role(self._store, name)

    async def add_role_user(self, role: str, user_id: str) -> dict[str, Any]:
        return await roles.add_role_user(self._store, role, user_id)

    async def remove_role_user(self, role: str, user_id: str) -> dict[str, Any]:
        return await roles.remove_role_user(self._store, role, user_id)

    # ---- API keys --------------------------------------------------------------------------

    def list_api_keys(self) -> list[dict[str, Any]]:
        return [key.to_wire() for key in self._keys.list()]

    async def create_api_key(self, name: Any, scopes: Any, acts_as_user_id: Any = None) -> dict[str, Any]:
        """The key's listing plus ``key``, its plaintext: the only time it is ever shown."""
        if not isinstance(name, str):
            raise InvalidSecurityPolicyError(["name: must be a string"])
        valid_scopes = validate_scopes(scopes)
        if acts_as_user_id is not None:
            if not isinstance(acts_as_user_id, str):
                raise InvalidSecurityPolicyError(["actsAsUserId: must be a user id"])
            await self._store.fetch(roles.USER_CLASS, acts_as_user_id, _master())  # 101 when unknown
        key, plaintext = self._keys.create(name, valid_scopes, acts_as_user_id)
        log.info("api_key_created", key_id=key.object_id, scopes=list(key.scopes))
        return {**key.to_wire(), "key": plaintext}

    def revoke_api_key(self, key_id: str) -> dict[str, Any]:
        key = self._keys.revoke(key_id)
        log.info("api_key_revoked", key_id=key.object_id)
        return key.to_wire()

    async def caller_for_api_key(self, plaintext: str) -> Any:
        """The web door's ``ApiKeyDirectory``: an ``ApiKeyCaller``, or 401 for an unknown or revoked key."""
        from sidecar.store import CallerKind
        from sidecar.web.auth import ApiKeyCaller

        key = self._keys.find(plaintext)
        if key is None:
            raise InvalidApiKeyError()
        scopes = frozenset(key.scopes)
        if key.acts_as_user_id is None:
            return ApiKeyCaller(CallerKind.ANONYMOUS, key_id=key.object_id, scopes=scopes)
        held = await roles.roles_of_user(self._store, key.acts_as_user_id)
        return ApiKeyCaller(
            CallerKind.USER, user_id=key.acts_as_user_id, roles=held, key_id=key.object_id, scopes=scopes
        )


def _check_query(query: Mapping[str, Any]) -> None:
    problems = [f"query: unknown key {key!r}" for key in query if key not in _QUERY_KEYS]
    if ("function" in query) == ("collection" in query):
        problems.append("query: name exactly one of collection or function")
    if "function" in query and not isinstance(query["function"], str):
        problems.append("query.function: must be a string")
    if "collection" in query:
        if not isinstance(query["collection"], str):
            problems.append("query.collection: must be a string")
        if query.get("operation") not in OPERATIONS:
            problems.append(f"query.operation: must be one of {', '.join(OPERATIONS)}")
    if query.get("userId") is not None and not isinstance(query["userId"], str):
        problems.append("query.userId: must be a string")
    held = query.get("roles")
    if held is not None and (not isinstance(held, list) or not all(isinstance(r, str) for r in held)):
        problems.append("query.roles: must be an array of role names")
    if held is not None and query.get("userId") is None:
        problems.append("query.roles: only with a userId")
    if problems:
        raise InvalidSecurityPolicyError(problems)
