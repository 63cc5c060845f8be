"""Users and sessions: login, logout, the current user, the caller's sessions.
Signup is ``POST /users`` in :mod:`routes_objects`."""

from __future__ import annotations

from sidecar.errors import (
    InvalidSessionTokenError,
    LoginFailedError,
    ObjectNotFoundError,
    PasswordMissingError,
    UsernameMissingError,
)
from sidecar.store import query_options_from_params
from sidecar.web.router import Call, Route
from sidecar.web.wire import Reply


def _token(call: Call) -> str:
    token = call.credentials.session_token
    if not token:
        raise InvalidSessionTokenError("Invalid session token")
    return token


async def login(call: Call) -> Reply:
    """Missing credentials get Parse's 200/201; wrong ones (or non-strings) the store's 404/101, raised as
    ``LoginFailedError`` so the door counts them as failed credentials (429 once over the allowance)."""
    username, email, password = (call.params.get(key) for key in ("username", "email", "password"))
    if username is None and email is None:
        raise UsernameMissingError("username/email is required.")
    if password is None:
        raise PasswordMissingError("password is required.")
    try:
        return Reply(await call.services.store.login(username, email, password))
    except ObjectNotFoundError as failed:
        account = username if username is not None else email
        raise LoginFailedError(failed.message, account=str(account)) from failed


async def logout(call: Call) -> Reply:
    if call.credentials.session_token:
        await call.services.store.logout(call.credentials.session_token)
    return Reply({})


async def me(call: Call) -> Reply:
    """Resolved from the token even when the master key also came (the Noodl cloud runtime sends both)."""
    return Reply(await call.services.store.current_user(_token(call)))


async def sessions(call: Call) -> Reply:
    if not call.caller.is_master:
        _token(call)
    options = query_options_from_params(call.params)
    result = await call.services.store.query("_Session", options, call.caller)
    return Reply(result.to_wire())


async def my_session(call: Call) -> Reply:
    """The session the presented token opens (found by its digest), with that token echoed."""
    return Reply(await call.services.store.current_session(_token(call)))


ROUTES: list[Route] = [
    Route("GET", "/users/me", me),
    Route("POST", "/login", login, use_session=False),
    Route("GET", "/login", login, use_session=False),
    Route("POST", "/logout", logout, use_session=False),
    Route("GET", "/sessions/me", my_session),
    Route("GET", "/sessions", sessions),
]
