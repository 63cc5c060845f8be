"""The failed-credential limiter (contract §3.2, edge case 4 "LOCKOUT").

Only requests that *carry* a credential which fails (a wrong admin token, an unknown or expired session
token, an unknown or revoked API key) are counted, per client address. Once a client has failed
``allowed`` times within the window, its further *failing* attempts are answered 429; a credential that
resolves always passes, so a locked out client can still use a good token, and ``/health`` never
authenticates at all.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sidecar.errors import (
    BadCredentialError,
    InvalidApiKeyError,
    InvalidSessionTokenError,
    TooManyAttemptsError,
)

T = TypeVar("T")


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

    async def guard(self, client: str, resolving: Awaitable[T]) -> T:
        try:
            return await resolving
        except (BadCredentialError, InvalidSessionTokenError, InvalidApiKeyError):
            self.failed(client)
            raise
