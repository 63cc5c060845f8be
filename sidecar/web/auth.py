"""Credentials → who is asking (``parse-wire.md`` §1.2, contract §3.2).

- the application id must name this backend (else bare 403 ``unauthorized``), unless the caller proves
  to be admin; configured client keys must match for non-admin callers;
- the master key (``X-Parse-Master-Key`` / ``_MasterKey``) and ``Authorization: Bearer`` both carry the
  backend's admin token; a wrong value is 401, never a silent downgrade, except the literal
  ``undefined`` that older Noodl runtimes send, which counts as absent;
- a session token resolves through the store (unknown or expired → 400/209).
"""

from __future__ import annotations

import hmac

from sidecar.errors import AppIdUnauthorizedError, BadCredentialError
from sidecar.store import AuthStore, CallerContext
from sidecar.web.body import Credentials
from sidecar.web.settings import WebSettings

_ABSENT_VALUES = frozenset({"", "undefined", "null"})
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


async def resolve_caller(
    credentials: Credentials, settings: WebSettings, users: AuthStore, *, use_session: bool = True
) -> CallerContext:
    """The caller of an ordinary Parse route (application id checked first)."""
    admin = is_admin(credentials, settings)
    check_application(credentials, settings, admin)
    if admin:
        return _MASTER
    token = credentials.session_token
    if not use_session or token is None:
        return _ANONYMOUS
    return await users.caller_for_session(token)


async def resolve_stream_caller(
    credentials: Credentials, settings: WebSettings, users: AuthStore
) -> CallerContext:
    """The caller of a realtime route: no application id needed (EventSource cannot send headers)."""
    if is_admin(credentials, settings):
        return _MASTER
    if credentials.session_token is None:
        return _ANONYMOUS
    return await users.caller_for_session(credentials.session_token)
