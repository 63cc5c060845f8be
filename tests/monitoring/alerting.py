"""What the alert tests share: a webhook receiver that checks signatures, a real SMTP server (aiosmtpd),
a simulated clock, and an engine wired to them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from sidecar.monitoring.alerts import AlertConfig, AlertEngine
from sidecar.monitoring.alerts.config import parse_config

SECRETS = {"hook-secret": "s3cret-signing-key-0123456789", "smtp-password": "mail-pass-0123"}
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
T0 = 1_800_000_000_000  # a fixed start of simulated time (epoch ms, on a minute)


@dataclass
class Received:
    kind: str
    body: dict[str, Any]
    signature_ok: bool


@dataclass
class Receiver:
    """Answers ``failures`` requests with 500 first, then 200; records each accepted notice and whether
    its ``X-Noodl-Signature`` is the HMAC-SHA256 of the body under the shared secret."""

    url: str = ""
    failures: int = 0
    requests: int = 0
    notices: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def kinds(self) -> list[str]:
        return [notice.kind for notice in self.notices]


@asynccontextmanager
async def webhook_receiver(secret: str = SECRETS["hook-secret"]) -> AsyncIterator[Receiver]:
    import orjson

    receiver = Receiver()

    async def accept(request: web.Request) -> web.Response:
        receiver.requests += 1
        if receiver.failures > 0:
            receiver.failures -= 1
            return web.Response(status=500)
        raw = await request.read()
        expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
        offered = request.headers.get("X-Noodl-Signature", "")
        ok = hmac.compare_digest(expected, offered)
        receiver.notices.append(Received(request.headers.get("X-Noodl-Event", ""), orjson.loads(raw), ok))
        receiver.arrived.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", accept)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()


class Mailbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, _server: Any, _session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append(message_from_bytes(content))
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return "250 OK"


def _authenticator(
    _server: Any, _session: Session, _envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    if mechanism in ("LOGIN", "PLAIN") and isinstance(data, LoginPassword):
        good = data.login == b"alerts" and data.password == SECRETS["smtp-password"].encode()
        return AuthResult(success=good)
    return AuthResult(success=False)


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files in ``folder``)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@asynccontextmanager
async def smtp_server(folder: Path) -> AsyncIterator[tuple[Mailbox, int, Path]]:
    """A real SMTP server on loopback that offers STARTTLS (a self-signed certificate, answered as the
    third item: trust it through ``SSL_CERT_FILE``) and requires AUTH after it."""
    cert_path, key_path = self_signed(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    mailbox = Mailbox()
    with socket.socket() as probe:  # a free port: the controller checks readiness by connecting to it
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticator,
        auth_required=True,
        tls_context=context,
        require_starttls=True,
    )
    await asyncio.to_thread(controller.start)
    try:
        yield mailbox, port, cert_path
    finally:
        await asyncio.to_thread(controller.stop)


class Clock:
    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> int:
        self.now += ms
        return self.now


async def secret(name: str) -> str:
    return SECRETS[name]


async def no_wait(_seconds: float) -> None:
    await asyncio.sleep(0)


def engine_for(raw: dict[str, Any], clock: Clock, **options: Any) -> AlertEngine:
    config: AlertConfig = parse_config(raw)
    options.setdefault("sleep", no_wait)
    return AlertEngine(None, config, backend_id="backend_alerts", secret=secret, clock=clock, **options)


def hook_channel(url: str, **extra: Any) -> dict[str, Any]:
    return {"id": "hook", "type": "webhook", "url": url, "secretCredential": "hook-secret", **extra}
