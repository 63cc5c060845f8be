"""The failed-credential limiter.

Only requests that *carry* a credential which fails (a wrong admin token or master key, an unknown or
expired session token, an unknown or revoked API key, a webhook token or signature that does not match,
a login with a wrong username or password)
are counted, per client address. Once a client has failed ``allowed`` times within the window, its
further *failing* attempts are answered 429; a credential that resolves always passes, so a locked out
client can still use a good token, and ``/health`` never authenticates at all.

The door's middleware (:mod:`sidecar.web.security`) does the counting for every route, so no route
counts on its own: a credential failure is either raised (one of :data:`FAILED_CREDENTIALS`) or, for a
handler that answers it itself (the webhook gateway records the rejection first), flagged on the request
with ``request[CREDENTIAL_FAILED] = True``.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

from aiohttp import web

from sidecar.errors import (
    BadCredentialError,
    InvalidApiKeyError,
    InvalidSessionTokenError,
    LoginFailedError,
    SidecarError,
    TooManyAttemptsError,
)

FAILED_CREDENTIALS = (BadCredentialError, InvalidSessionTokenError, InvalidApiKeyError, LoginFailedError)
"""Errors that mean "the request carried a credential and it failed"."""
CREDENTIAL_FAILED = web.RequestKey("credential_failed", bool)
"""Set by a handler that answered a failed credential itself."""


class CredentialLimiter:
    def __init__(
        self, allowed: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._allowed = allowed
        self._window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def failed(self, client: str) -> None:
        """Record a failure; raise 429 if the client was already over its allowance."""
        now = self._clock()
        recent = self._failures.setdefault(client, deque())
        while recent and recent[0] <= now - self._window:
            recent.popleft()
        if len(recent) >= self._allowed:
            raise TooManyAttemptsError(max(1, math.ceil(recent[0] + self._window - now)))
        recent.append(now)

    def answer_failure(self, client: str, failure: SidecarError) -> SidecarError:
        """Count ``failure``; the error to answer: the failure itself, or 429 once over the allowance."""
        try:
            self.failed(client)
        except TooManyAttemptsError as blocked:
            return blocked
        return failure
