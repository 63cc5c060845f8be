"""Dashboard sessions: who logged in with the admin token, for how long, and the CSRF token of each.

A session is a random id in an ``HttpOnly; SameSite=Strict`` cookie scoped to ``/dashboard``, kept in
memory only (a restart logs everyone out; the admin token is never stored in the browser). Each session
has its own CSRF token, put in the page and required in the ``X-CSRF-Token`` header (or ``csrf`` form
field) of every state-changing request, compared in constant time. Sessions end after ``IDLE_SECONDS``
without use or ``MAX_SECONDS`` after login, whichever comes first.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

COOKIE = "noodl_dashboard"
IDLE_SECONDS = 8 * 3600
MAX_SECONDS = 24 * 3600
MAX_SESSIONS = 1_000


@dataclass
class Session:
    csrf: str
    created: float
    used: float


class Sessions:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def create(self) -> tuple[str, Session]:
        now = self._clock()
        self._expire(now)
        if len(self._sessions) >= MAX_SESSIONS:  # the oldest goes: logins cannot grow memory forever
            del self._sessions[min(self._sessions, key=lambda key: self._sessions[key].created)]
        session_id = secrets.token_urlsafe(32)
        session = Session(secrets.token_urlsafe(32), now, now)
        self._sessions[session_id] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        now = self._clock()
        if session is None:
            return None
        if now - session.used > IDLE_SECONDS or now - session.created > MAX_SECONDS:
            del self._sessions[session_id]
            return None
        session.used = now
        return session

    def end(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    def clear(self) -> None:
        self._sessions.clear()

    @staticmethod
    def csrf_ok(session: Session, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(session.csrf, offered)

    def _expire(self, now: float) -> None:
        for key, session in list(self._sessions.items()):
            if now - session.used > IDLE_SECONDS or now - session.created > MAX_SECONDS:
                del self._sessions[key]
