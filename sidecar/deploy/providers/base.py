"""What every cloud provider offers the deploy flow, and the HTTP client their API clients share.

A provider turns a pushed image into a serving backend on one *target* (an app or service of one
account): :meth:`Provider.prepare` makes what the target needs once (app, volume), :meth:`Provider.
set_environment` applies env vars and secrets, :meth:`Provider.release` points the target at an image
and :meth:`Provider.state` reports how that went, so the flow can wait for ``/health`` and, when the new
image does not come up, :meth:`Provider.release` the previous image again.

:class:`ApiClient` is the one place that talks HTTP to a provider: JSON in and out, the token as a Bearer
header (never logged, never in an error), 429 retried after ``Retry-After`` (or ``Ratelimit-Reset``),
gateway errors (502/503/504) and connection failures retried with a growing pause, any other status
raised as
:class:`~sidecar.errors.ProviderApiError` with the provider's own message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import structlog

from sidecar.errors import ProviderApiError
from sidecar.secret_text import redact_secrets

log = structlog.get_logger("sidecar.deploy")

RETRIED_STATUSES = frozenset({429, 502, 503, 504})
MAX_ATTEMPTS = 5
MAX_RETRY_AFTER_S = 30.0


@dataclass(frozen=True)
class TargetSpec:
    """Where one backend deploys: ``name`` is the target (``production``, ``staging``, …)."""

    name: str
    provider: str
    app: str
    region: str = ""
    api_base: str = ""
    registry: str = ""
    public_url: str = ""
    token_credential: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Released:
    """What :meth:`Provider.release` did: ``handle`` identifies the running unit (machine, deploy)."""

    handle: str
    url: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DomainStatus:
    hostname: str
    status: str  # pending, issued, failed
    detail: str = ""


class Provider(Protocol):
    name: str

    async def prepare(self) -> None:
        """Create the target's app/service and volume when they are missing (idempotent)."""

    async def registry_login(self) -> tuple[str, str]:
        """``(username, password)`` the image push uses against :attr:`TargetSpec.registry`."""

    async def current_environment(self) -> tuple[dict[str, str], set[str]]:
        """The env vars (name → value) and the secret *names* the provider holds for the target."""

    async def set_environment(
        self, env: Mapping[str, str], secrets: Mapping[str, str], unset: set[str]
    ) -> None:
        """Set env vars and secrets, remove ``unset``; secret values are only ever written."""

    async def release(self, image: str, env: Mapping[str, str]) -> Released:
        """Run ``image`` on the target (create or update), answering as soon as the provider accepted it."""

    async def state(self, released: Released) -> str:
        """``starting``, ``started`` or ``failed``: where the released unit stands."""

    async def add_domain(self, hostname: str) -> DomainStatus: ...

    async def domain_status(self, hostname: str) -> DomainStatus: ...

    async def close(self) -> None: ...


Sleep = Callable[[float], Any]


class ApiClient:
    """JSON over HTTP to one provider, retrying what the provider asks to be retried."""

    def __init__(self, provider: str, base_url: str, token: str, *, pause_s: float = 0.25) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._pause_s = pause_s
        self._session: aiohttp.ClientSession | None = None
        self.retries = 0

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self._token}", "User-Agent": "noodl-sidecar-deploy"},
                timeout=aiohttp.ClientTimeout(total=90, sock_connect=10),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (),
    ) -> tuple[int, Any]:
        """``(status, body)``; a status in ``ok`` is answered, not raised, even when it is not 2xx."""
        url = self.base_url + path
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self._http().request(method, url, json=json, params=params) as reply:
                    body = await _body(reply)
                    if reply.status < 300 or reply.status in ok:
                        return reply.status, body
                    if reply.status not in RETRIED_STATUSES or attempt == MAX_ATTEMPTS:
                        raise ProviderApiError(self.provider, reply.status, self._message(body))
                    header = reply.headers.get("Retry-After") or reply.headers.get("Ratelimit-Reset")
                    wait = _retry_after(header, self._pause_s * 2 ** (attempt - 1))
                    reason = f"{reply.status}"
            except aiohttp.ClientConnectionError as exc:
                if attempt == MAX_ATTEMPTS:
                    raise ProviderApiError(self.provider, 0, f"cannot reach {self.base_url}: {exc}") from exc
                wait, reason = self._pause_s * 2 ** (attempt - 1), type(exc).__name__
            self.retries += 1
            log.info("provider_retry", provider=self.provider, path=path, reason=reason, wait_s=wait)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _message(self, body: Any) -> str:
        if isinstance(body, Mapping):
            for key in ("error", "message", "errors", "detail"):
                if body.get(key):
                    text = str(body[key])
                    break
            else:
                text = str(body)
        else:
            text = str(body)
        return redact_secrets(text.replace(self._token, "…"))[:500]


async def _body(reply: aiohttp.ClientResponse) -> Any:
    text = await reply.text()
    if not text:
        return None
    try:
        return await reply.json(content_type=None)
    except ValueError:
        return text


def _retry_after(header: str | None, fallback: float) -> float:
    if header is None:
        return fallback
    try:
        return min(max(float(header), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:  # an HTTP date: wait the fallback instead of parsing clocks
        return fallback
