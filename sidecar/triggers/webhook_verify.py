"""Webhook verification over the raw body bytes (docs/triggers.md, "Webhooks"), as pure functions.

Comparisons hash both sides first and then compare the digests in constant time, so neither the length
nor the content of the expected value leaks through timing. Each function returns ``None`` when the
request is authentic, else the contract's rejection reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_HEADERS = ("X-Hub-Signature-256", "X-Signature-256", "X-Webhook-Signature")
TOKEN_HEADER = "X-Webhook-Token"
TOKEN_QUERY = "token"

NO_SECRET = "no secret configured for this hook"
MISSING_SIGNATURE = f"missing signature header (one of {', '.join(SIGNATURE_HEADERS)})"
SIGNATURE_MISMATCH = "HMAC-SHA256 signature mismatch"
MISSING_TOKEN = (
    f"missing webhook token ({TOKEN_HEADER} header, Authorization: Bearer <token> or ?{TOKEN_QUERY}=)"
)
TOKEN_MISMATCH = "webhook token does not match"


def constant_time_equal(left: bytes, right: bytes) -> bool:
    return hmac.compare_digest(hashlib.sha256(left).digest(), hashlib.sha256(right).digest())


def sign(secret: str, raw_body: bytes) -> str:
    """The hex signature a sender puts in ``X-Hub-Signature-256`` (after ``sha256=``)."""
    return hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def verify_hmac(secret: str | None, raw_body: bytes, headers: Mapping[str, str]) -> str | None:
    if not secret:
        return NO_SECRET
    provided = _first_header(headers, SIGNATURE_HEADERS)
    if provided is None:
        return MISSING_SIGNATURE
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    decoded = _decode_signature(provided)
    if decoded is None or not constant_time_equal(decoded, expected):
        return SIGNATURE_MISMATCH
    return None


def verify_token(secret: str | None, headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    if not secret:
        return NO_SECRET
    provided = _first_header(headers, (TOKEN_HEADER,))
    if provided is None:
        authorization = _first_header(headers, ("Authorization",))
        if authorization is not None and authorization[:7].lower() == "bearer ":
            provided = authorization[7:].strip()
    if provided is None:
        provided = query.get(TOKEN_QUERY)
    if not provided:
        return MISSING_TOKEN
    # surrogateescape: header bytes that are not UTF-8 compare as the bytes they were (and never match).
    if not constant_time_equal(provided.encode("utf-8", "surrogateescape"), secret.encode()):
        return TOKEN_MISMATCH
    return None


def _first_header(headers: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    lowered = {name.lower(): value for name, value in headers.items()}
    for name in names:
        value = lowered.get(name.lower())
        if value is not None and value.strip():
            return value.strip()
    return None


def _decode_signature(text: str) -> bytes | None:
    """``sha256=`` prefix optional; hex in any case, or base64 (standard or URL-safe)."""
    if text[:7].lower() == "sha256=":
        text = text[7:]
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        standard = text.replace("-", "+").replace("_", "/").rstrip("=")
        decoded = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded if len(decoded) == hashlib.sha256().digest_size else None
