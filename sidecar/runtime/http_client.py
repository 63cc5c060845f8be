"""Outbound HTTP for the REST node and for ``fetch`` in Function code: small ports and an aiohttp
implementation (imported lazily) whose sessions keep to the egress policy (:mod:`sidecar.runtime.egress`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

REQUEST_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class HttpResult:
    status: int
    content: Any  # parsed JSON when the response says so, else text
    content_type: str | None = None  # the response's header, when it had one


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What a script's ``fetch`` needs of a response: the body as text, every header line."""

    status: int
    reason: str
    headers: list[tuple[str, str]]  # lowercase names, in the order received
    url: str  # after redirects
    redirected: bool
    body: str


class ResponseTooLarge(Exception):
    """A response body over the caller's limit (the script's memory could not hold it anyway)."""


class HttpClient(Protocol):
    async def request(
        self, method: str, url: str, headers: Mapping[str, str], body: str | None
    ) -> HttpResult: ...


@runtime_checkable
class Fetcher(Protocol):
    async def fetch(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        body: str | None,
        max_body_bytes: int,
    ) -> FetchResult: ...


class AiohttpClient:
    """One request per call with its own session; REST nodes are rare enough not to pool."""

    async def request(
        self, method: str, url: str, headers: Mapping[str, str], body: str | None
    ) -> HttpResult:
        import aiohttp  # slow import: only when a REST node actually fetches

        from sidecar.runtime.egress import client_session

        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
        async with (
            client_session(timeout) as session,
            # No body, no Content-Type (aiohttp would add application/octet-stream; fetch adds none).
            session.request(
                method,
                url,
                headers=dict(headers),
                data=body,
                skip_auto_headers=("Content-Type",) if body is None else (),
            ) as response,
        ):
            text = await response.text()
            content_type = response.headers.get("content-type")
            json_body = content_type is not None and "/json" in content_type
            content: Any = json.loads(text) if json_body and text else text
            return HttpResult(response.status, content, content_type)

    async def fetch(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        body: str | None,
        max_body_bytes: int,
    ) -> FetchResult:
        """One request as a script's ``fetch`` makes it: redirects followed, the body read as UTF-8
        text up to ``max_body_bytes`` (more raises :class:`ResponseTooLarge`)."""
        import aiohttp

        from sidecar.runtime.egress import client_session

        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
        data = body.encode("utf-8") if body is not None else None
        async with (
            client_session(timeout) as session,
            session.request(method, url, headers=list(headers), data=data) as response,
        ):
            raw = await response.content.read(max_body_bytes + 1)
            if len(raw) > max_body_bytes:
                raise ResponseTooLarge(f"response body larger than {max_body_bytes} bytes")
            return FetchResult(
                status=response.status,
                reason=response.reason or "",
                headers=[(name.lower(), value) for name, value in response.headers.items()],
                url=str(response.url),
                redirected=bool(response.history),
                body=raw.decode("utf-8", errors="replace"),
            )
