"""Outbound HTTP for the REST node: a small port and an aiohttp implementation (imported lazily)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

REQUEST_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class HttpResult:
    status: int
    content: Any  # parsed JSON when the response says so, else text


class HttpClient(Protocol):
    async def request(
        self, method: str, url: str, headers: Mapping[str, str], body: str | None
    ) -> HttpResult: ...


class AiohttpClient:
    """One request per call with its own session; REST nodes are rare enough not to pool."""

    async def request(
        self, method: str, url: str, headers: Mapping[str, str], body: str | None
    ) -> HttpResult:
        import aiohttp  # slow import: only when a REST node actually fetches

        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, url, headers=dict(headers), data=body) as response,
        ):
            text = await response.text()
            content_type = response.headers.get("content-type", "")
            content: Any = json.loads(text) if "json" in content_type and text else text
            return HttpResult(response.status, content)
