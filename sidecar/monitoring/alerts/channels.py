"""Sending one notice through one channel: webhook (signed JSON POST) or email (SMTP), with retries.

A webhook body is the notice as JSON; with ``secretCredential`` it carries
``X-Noodl-Signature: sha256=<hex HMAC-SHA256 of the body bytes>`` (the receiver recomputes it with the
same secret and compares in constant time), and ``X-Noodl-Event: firing|reminder|resolved|test``. A 2xx
answer is success; anything else, or no answer, is retried after ``backoffSeconds``, doubled each time, up
to ``retries`` more attempts. Email goes over ``aiosmtplib`` (``tls``: TLS from the first byte;
``starttls``: plain then upgraded, refused if the server cannot; ``none``: plain), with the password looked
up in the credential store at each send, so a changed credential applies at once.

Each channel has a rate limit (``max`` notices per ``perMinutes``): a notice over it is recorded as
``rateLimited`` rather than sent, so a flapping rule cannot flood an inbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from sidecar.monitoring.alerts.config import EmailChannel, WebhookChannel

SIGNATURE_HEADER = "X-Noodl-Signature"
EVENT_HEADER = "X-Noodl-Event"

Secret = Callable[[str], Awaitable[str]]
"""A credential's value by name (raises ``CredentialNotFoundError``)."""
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Notice:
    kind: str
    """``firing`` | ``reminder`` | ``resolved`` | ``test``"""
    subject_line: str
    text: str
    payload: dict[str, Any]


@dataclass
class Delivery:
    channel: str
    status: str = "pending"
    """``pending`` → ``sent`` | ``failed`` | ``rateLimited``"""
    attempts: int = 0
    error: str | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
        }


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class RateLimiter:
    """At most ``max`` sends per ``perMinutes`` per channel, on the engine's clock."""

    def __init__(self) -> None:
        self._sent: dict[str, deque[int]] = {}

    def allow(self, channel: WebhookChannel | EmailChannel, now_ms: int) -> bool:
        sent = self._sent.setdefault(channel.id, deque())
        horizon = now_ms - channel.rate_limit.per_minutes * 60_000
        while sent and sent[0] <= horizon:
            sent.popleft()
        if len(sent) >= channel.rate_limit.max:
            return False
        sent.append(now_ms)
        return True


async def _post(channel: WebhookChannel, notice: Notice, secret: Secret) -> None:
    import aiohttp

    body = orjson.dumps(notice.payload)
    headers = {"Content-Type": "application/json", EVENT_HEADER: notice.kind}
    if channel.secret_credential is not None:
        headers[SIGNATURE_HEADER] = sign(await secret(channel.secret_credential), body)
    timeout = aiohttp.ClientTimeout(total=channel.timeout_seconds)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.post(channel.url, data=body, headers=headers) as reply,
    ):
        if not 200 <= reply.status < 300:
            raise ChannelRefused(f"HTTP {reply.status}")


async def _mail(channel: EmailChannel, notice: Notice, secret: Secret) -> None:
    from email.message import EmailMessage

    import aiosmtplib

    message = EmailMessage()
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message["Subject"] = notice.subject_line
    message.set_content(notice.text)
    password = await secret(channel.password_credential) if channel.password_credential else None
    await aiosmtplib.send(
        message,
        hostname=channel.host,
        port=channel.port,
        username=channel.username,
        password=password,
        use_tls=channel.security == "tls",
        start_tls=channel.security == "starttls",
        timeout=channel.timeout_seconds,
    )


class ChannelRefused(Exception):
    """The receiver answered, but not with success."""


async def deliver(
    channel: WebhookChannel | EmailChannel, notice: Notice, delivery: Delivery, secret: Secret, sleep: Sleep
) -> None:
    """Send with retries; ``delivery`` ends ``sent`` or ``failed`` (with the last error)."""
    wait = channel.backoff_seconds
    for attempt in range(channel.retries + 1):
        if attempt:
            await sleep(wait)
            wait *= 2
        delivery.attempts = attempt + 1
        try:
            if isinstance(channel, WebhookChannel):
                await _post(channel, notice, secret)
            else:
                await _mail(channel, notice, secret)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # any failure of the far side is retried, then recorded
            delivery.error = f"{type(error).__name__}: {error}"[:500]
            continue
        delivery.status, delivery.error = "sent", None
        return
    delivery.status = "failed"
