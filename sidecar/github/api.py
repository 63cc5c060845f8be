"""A small GitHub REST client: conditional requests, rate limits, pagination, and the device flow.

Every GET carries ``If-None-Match`` with the ETag of the last answer for the same URL and token; a
304 (which GitHub does not count against the quota) is answered from that cached body. The
``X-RateLimit-*`` headers of each answer are kept for the editor. A 401 means the token was revoked
or expired (:class:`GitHubAuthError`); a 403/429 with no quota left or a ``Retry-After`` is a rate
limit (:class:`GitHubRateLimitError`, with when to retry).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp

from sidecar.errors import RequestFailedError

USER_AGENT = "noodl-sidecar"
ACCEPT = "application/vnd.github+json"
_LINK = re.compile(r'<(?P<url>[^>]+)>;\s*rel="(?P<rel>[a-z]+)"')
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP_S = 5  # RFC 8628 §3.5: each slow_down adds five seconds to the interval


class GitHubError(RequestFailedError):
    code = "GITHUB_ERROR"

    def __init__(self, message: str, status: int | None = None, **extra: Any) -> None:
        super().__init__(message, data={"code": self.code, "status": status, **extra})


class GitHubAuthError(GitHubError):
    code = "GITHUB_UNAUTHORIZED"


class GitHubRateLimitError(GitHubError):
    code = "GITHUB_RATE_LIMITED"


class DeviceFlowError(GitHubError):
    code = "GITHUB_DEVICE_FLOW"


@dataclass
class RateLimit:
    limit: int | None = None
    remaining: int | None = None
    reset: int | None = None
    used: int | None = None

    def update(self, headers: Mapping[str, str]) -> None:
        for name in ("limit", "remaining", "reset", "used"):
            raw = headers.get(f"X-RateLimit-{name.capitalize()}")
            if raw is not None and raw.isdigit():
                setattr(self, name, int(raw))

    def to_wire(self) -> dict[str, int | None]:
        return {"limit": self.limit, "remaining": self.remaining, "reset": self.reset, "used": self.used}


@dataclass
class Page:
    items: Any
    next_page: int | None
    from_cache: bool


def next_page_of(link: str | None) -> int | None:
    for found in _LINK.finditer(link or ""):
        if found["rel"] == "next":
            page = re.search(r"[?&]page=(\d+)", found["url"])
            return int(page[1]) if page else None
    return None


@dataclass
class GitHubClient:
    api_base: str
    token: str | None = None
    rate: RateLimit = field(default_factory=RateLimit)
    _cache: dict[str, tuple[str, Any, str | None]] = field(default_factory=dict)
    requests: int = 0

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": ACCEPT, "User-Agent": USER_AGENT, "X-GitHub-Api-Version": "2022-11-28"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def _cache_key(self, url: str) -> str:
        # The token's digest is part of the key: one user's cached answer never serves another.
        return hashlib.sha256(f"{self.token or ''}\n{url}".encode()).hexdigest()

    async def get(self, path: str, params: Mapping[str, str] | None = None) -> Page:
        query = urlencode(dict(params or {}))
        url = f"{self.api_base.rstrip('/')}{path}" + (f"?{query}" if query else "")
        key = self._cache_key(url)
        headers = self._headers()
        cached = self._cache.get(key)
        if cached is not None:
            headers["If-None-Match"] = cached[0]
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
            self.requests += 1
            self.rate.update(response.headers)
            if response.status == 304 and cached is not None:
                return Page(cached[1], next_page_of(cached[2]), True)
            body = await self._body(response)
            etag = response.headers.get("ETag")
            link = response.headers.get("Link")
            if etag:
                self._cache[key] = (etag, body, link)
            return Page(body, next_page_of(link), False)

    async def post(self, path: str, payload: Mapping[str, Any]) -> Any:
        url = f"{self.api_base.rstrip('/')}{path}"
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=payload, headers=self._headers()) as response,
        ):
            self.requests += 1
            self.rate.update(response.headers)
            return await self._body(response)

    async def _body(self, response: aiohttp.ClientResponse) -> Any:
        try:
            body = await response.json(content_type=None)
        except ValueError:
            body = None
        if response.status < 400:
            return body
        message = body.get("message") if isinstance(body, dict) else None
        text = f"GitHub answered {response.status}: {message or response.reason}"
        if response.status == 401:
            raise GitHubAuthError(text, response.status)
        retry_after = response.headers.get("Retry-After")
        if response.status in (403, 429) and (retry_after is not None or self.rate.remaining == 0):
            wait = int(retry_after) if retry_after and retry_after.isdigit() else None
            raise GitHubRateLimitError(text, response.status, retryAfter=wait, reset=self.rate.reset)
        raise GitHubError(text, response.status)


# ---- OAuth device flow ---------------------------------------------------------------------------------


async def start_device_flow(oauth_base: str, client_id: str, scope: str) -> dict[str, Any]:
    url = f"{oauth_base.rstrip('/')}/login/device/code"
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            url, data={"client_id": client_id, "scope": scope}, headers={"Accept": "application/json"}
        ) as response,
    ):
        body = await response.json(content_type=None)
    if response.status >= 400 or not isinstance(body, dict) or "device_code" not in body:
        raise DeviceFlowError(f"the device flow could not start: {body}", response.status)
    return body


async def poll_device_flow(
    oauth_base: str,
    client_id: str,
    started: Mapping[str, Any],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Poll until the user authorises (the token), honouring ``interval`` and ``slow_down``; expiry and
    denial end it with :class:`DeviceFlowError`."""
    url = f"{oauth_base.rstrip('/')}/login/oauth/access_token"
    given, lifetime = started.get("interval"), started.get("expires_in")
    interval = float(given) if isinstance(given, int | float) else 5.0  # RFC 8628's default
    deadline = clock() + (float(lifetime) if isinstance(lifetime, int | float) else 900.0)
    payload = {"client_id": client_id, "device_code": str(started["device_code"]), "grant_type": DEVICE_GRANT}
    async with aiohttp.ClientSession() as session:
        while True:
            await sleep(interval)
            if clock() > deadline:
                raise DeviceFlowError(
                    "the device code expired before it was authorised", reason="expired_token"
                )
            async with session.post(url, data=payload, headers={"Accept": "application/json"}) as response:
                body = await response.json(content_type=None)
            if not isinstance(body, dict):
                raise DeviceFlowError("unreadable answer from the token endpoint", response.status)
            if isinstance(body.get("access_token"), str):
                return str(body["access_token"])
            error = body.get("error")
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                told = body.get("interval")
                interval = float(told) if isinstance(told, int | float) else interval + SLOW_DOWN_STEP_S
                continue
            reason = str(error or "unknown")
            raise DeviceFlowError(f"sign-in ended: {body.get('error_description') or reason}", reason=reason)
