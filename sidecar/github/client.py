"""A small typed GitHub REST client on aiohttp.

Per request it: sends the token and GitHub's versioned media type; keeps each GET's ``ETag`` with its body
and replays it as ``If-None-Match``, so a ``304 Not Modified`` (which GitHub does not count against the
quota) is answered from the cache; reads the rate-limit headers into :class:`RateLimit` and hands them to
``on_rate_limit``; retries once after ``Retry-After`` when a secondary rate limit answers 403/429; turns a
401 into :class:`GitHubAuthError` and a spent quota into :class:`GitHubRateLimitError`. Pagination follows
the ``Link`` header's ``rel="next"`` / ``rel="last"``.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from sidecar.errors import GitHubAuthError, GitHubError, GitHubNotFoundError, GitHubRateLimitError

API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"
_TIMEOUT = aiohttp.ClientTimeout(total=30)
_LINK = re.compile(r'<(?P<url>[^>]+)>\s*;\s*rel="(?P<rel>[^"]+)"')
_CACHE_LIMIT = 512
_MAX_RETRY_AFTER_S = 120.0

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RateLimit:
    limit: int | None
    remaining: int | None
    reset: int | None
    """Epoch seconds when the window resets."""
    used: int | None
    resource: str | None

    def to_wire(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "remaining": self.remaining,
            "reset": self.reset,
            "used": self.used,
            "resource": self.resource,
        }


@dataclass(frozen=True)
class Response:
    status: int
    data: Any
    links: dict[str, str]
    """``rel`` → URL from the ``Link`` header."""
    from_cache: bool
    rate_limit: RateLimit | None


@dataclass
class _Cached:
    etag: str
    data: Any
    links: dict[str, str]


def _int(headers: Any, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def rate_limit_of(headers: Any) -> RateLimit | None:
    if headers.get("x-ratelimit-remaining") is None:
        return None
    return RateLimit(
        limit=_int(headers, "x-ratelimit-limit"),
        remaining=_int(headers, "x-ratelimit-remaining"),
        reset=_int(headers, "x-ratelimit-reset"),
        used=_int(headers, "x-ratelimit-used"),
        resource=headers.get("x-ratelimit-resource"),
    )


def parse_links(header: str | None) -> dict[str, str]:
    return {m.group("rel"): m.group("url") for m in _LINK.finditer(header or "")}


def page_of(url: str | None) -> int | None:
    """The ``page`` query parameter of a pagination link."""
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("page")
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


def _message(data: Any, fallback: str) -> str:
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return fallback


@dataclass
class GitHubClient:
    """Calls ``api_url`` with ``token``; one instance per service, so its ETag cache outlives calls."""

    api_url: str
    token_source: Callable[[], Awaitable[str]]
    on_rate_limit: Callable[[RateLimit], None] = lambda _limit: None
    sleep: Sleep = asyncio.sleep
    user_agent: str = "noodl-sidecar"
    _cache: dict[str, _Cached] = field(default_factory=dict)

    async def get(self, path: str, params: dict[str, str] | None = None) -> Response:
        return await self.request("GET", path, params=params)

    async def request(
        self, method: str, path: str, *, params: dict[str, str] | None = None, json: Any = None
    ) -> Response:
        token = await self.token_source()
        url = path if path.startswith(("http://", "https://")) else self.api_url.rstrip("/") + path
        # The cache is per token: another account may see other things behind the same URL.
        cache_key = hashlib.sha256(f"{token}\n{url}\n{sorted((params or {}).items())}".encode()).hexdigest()
        for attempt in (1, 2):
            cached = self._cache.get(cache_key) if method == "GET" else None
            headers = {
                "Accept": MEDIA_TYPE,
                "Authorization": f"Bearer {token}",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": self.user_agent,
            }
            if cached is not None:
                headers["If-None-Match"] = cached.etag
            try:
                async with (
                    aiohttp.ClientSession(timeout=_TIMEOUT) as session,
                    session.request(method, url, params=params, json=json, headers=headers) as answer,
                ):
                    status = answer.status
                    answer_headers = answer.headers
                    data: Any = None
                    if status != 304 and status != 204:
                        data = await answer.json(content_type=None) if await answer.read() else None
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise GitHubError(f"GitHub could not be reached or answered garbage: {exc}") from exc
            limit = rate_limit_of(answer_headers)
            if limit is not None:
                self.on_rate_limit(limit)
            retry_after = _int(answer_headers, "retry-after")
            if status in (403, 429) and retry_after is not None and attempt == 1:
                # A secondary rate limit: GitHub asks to wait this long, then try again (once).
                await self.sleep(min(float(retry_after), _MAX_RETRY_AFTER_S))
                continue
            return self._answer(status, data, answer_headers, cached, cache_key, limit, method)
        raise AssertionError("unreachable")  # pragma: no cover

    def _answer(
        self,
        status: int,
        data: Any,
        headers: Any,
        cached: _Cached | None,
        cache_key: str,
        limit: RateLimit | None,
        method: str,
    ) -> Response:
        if status == 304 and cached is not None:
            return Response(304, cached.data, cached.links, True, limit)
        links = parse_links(headers.get("link"))
        if 200 <= status < 300:
            etag = headers.get("etag")
            if method == "GET" and etag:
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[cache_key] = _Cached(etag, data, links)
            return Response(status, data, links, False, limit)
        message = _message(data, f"GitHub answered HTTP {status}")
        if status == 401:
            raise GitHubAuthError(
                f"GitHub refused the token ({message}): it was revoked or has expired; sign in again",
                data={"status": 401},
            )
        if status in (403, 429) and (
            headers.get("retry-after") is not None or (limit is not None and limit.remaining == 0)
        ):
            raise GitHubRateLimitError(
                f"GitHub rate limit reached: {message}",
                data={
                    "remaining": limit.remaining if limit else None,
                    "reset": limit.reset if limit else None,
                    "retryAfter": _int(headers, "retry-after"),
                },
            )
        if status == 404:
            raise GitHubNotFoundError(f"GitHub: not found ({message})", data={"status": 404})
        raise GitHubError(f"GitHub answered HTTP {status}: {message}", data={"status": status})
