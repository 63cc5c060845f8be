"""Credentials → who is asking (docs/http-api.md, "Credentials").

- the application id must name this backend (else bare 403 ``unauthorized``), unless the caller proves
  to be admin; configured client keys must match for non-admin callers;
- the master key (``X-Parse-Master-Key`` / ``_MasterKey``) and ``Authorization: Bearer`` both carry the
  backend's admin token; a wrong value is 401, never a silent downgrade, except the literal
  ``undefined`` that older Noodl runtimes send, which counts as absent;
- a session token resolves through the store (unknown or expired → 400/209);
- an API key (``X-NodeGX-Api-Key``) resolves through the backend's key directory: unknown or revoked →
  401; it needs no application id, acts as its ``actsAsUserId`` user (else as an anonymous, keyed
  principal) and is held to its scopes: ``data:read`` for reads, ``data:write`` for writes, a function
  scope for ``/functions`` (checked by the function invoker).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Protocol

from sidecar.errors import (
    AdminCredentialMissingError,
    AppIdUnauthorizedError,
    BadCredentialError,
    InvalidApiKeyError,
    OperationForbiddenError,
)
from sidecar.store import AuthStore, CallerContext
from sidecar.web.body import Credentials
from sidecar.web.settings import WebSettings

_ABSENT_VALUES = frozenset({"", "undefined", "null"})
_READ_METHODS = frozenset({"GET", "HEAD"})
# Function routes are checked by the invoker (function scopes). ``POST /batch`` counts as a write (its
# writes go to the store in one call); its routed sub-requests are checked again one by one.
_SCOPED_ELSEWHERE = ("/functions/", "/jobs/")


@dataclass(frozen=True)
class ApiKeyCaller(CallerContext):
    """A caller that presented an API key: the store sees the user it acts as (or an anonymous caller);
    the doors check its scopes."""

    key_id: str = ""
    scopes: frozenset[str] = frozenset()


class ApiKeyDirectory(Protocol):
    async def caller_for_api_key(self, key: str) -> ApiKeyCaller:
        """The key's caller; raises ``InvalidApiKeyError`` (401) for an unknown or revoked key."""
        ...


def check_key_scope(caller: CallerContext, method: str, route_pattern: str) -> None:
    """Refuse (403/119) a data route the key has no scope for."""
    if not isinstance(caller, ApiKeyCaller) or route_pattern.startswith(_SCOPED_ELSEWHERE):
        return
    needed = "data:read" if method in _READ_METHODS else "data:write"
    if needed not in caller.scopes:
        raise OperationForbiddenError(f"Permission denied: this API key lacks the scope {needed}.")


_ANONYMOUS = CallerContext.anonymous()
_MASTER = CallerContext.master()


def _present(value: str | None) -> str | None:
    return None if value is None or value in _ABSENT_VALUES else value


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def is_admin(credentials: Credentials, settings: WebSettings) -> bool:
    """True for a matching admin credential; raises 401 for one that does not match."""
    offered = [value for value in (_present(credentials.master_key), _present(credentials.bearer)) if value]
    if not offered:
        return False
    if settings.master_key is None or not all(_same(value, settings.master_key) for value in offered):
        raise BadCredentialError()
    return True


def require_admin(credentials: Credentials, settings: WebSettings) -> None:
    """Admin-only routes: no admin credential is as refused (401) as a wrong one (but not counted as a
    failed attempt)."""
    if not is_admin(credentials, settings):
        raise AdminCredentialMissingError()


def check_application(credentials: Credentials, settings: WebSettings, admin: bool) -> None:
    if admin:
        return
    app_id = credentials.app_id
    if app_id is None or not _same(app_id, settings.app_id):
        raise AppIdUnauthorizedError()
    if settings.client_keys:
        key = credentials.client_key
        if key is None or not any(_same(key, known) for known in settings.client_keys):
            raise AppIdUnauthorizedError()


async def _key_caller(credentials: Credentials, keys: ApiKeyDirectory | None) -> ApiKeyCaller | None:
    key = _present(credentials.api_key)
    if key is None:
        return None
    if keys is None:
        raise InvalidApiKeyError()
    return await keys.caller_for_api_key(key)


async def resolve_caller(
    credentials: Credentials,
    settings: WebSettings,
    users: AuthStore,
    keys: ApiKeyDirectory | None = None,
    *,
    use_session: bool = True,
) -> CallerContext:
    """The caller of an ordinary Parse route (application id checked first, except for an API key)."""
    admin = is_admin(credentials, settings)
    if admin:
        return _MASTER
    keyed = await _key_caller(credentials, keys)
    if keyed is not None:
        return keyed
    check_application(credentials, settings, admin)
    token = credentials.session_token
    if not use_session or token is None:
        return _ANONYMOUS
    return await users.caller_for_session(token)


async def resolve_stream_caller(
    credentials: Credentials, settings: WebSettings, users: AuthStore, keys: ApiKeyDirectory | None = None
) -> CallerContext:
    """The caller of a realtime route: no application id needed (EventSource cannot send headers).
    A key needs ``data:read`` to listen."""
    if is_admin(credentials, settings):
        return _MASTER
    keyed = await _key_caller(credentials, keys)
    if keyed is not None:
        check_key_scope(keyed, "GET", "/realtime")
        return keyed
    if credentials.session_token is None:
        return _ANONYMOUS
    return await users.caller_for_session(credentials.session_token)
