"""Webhook verification as pure functions: accepted forms and the contract's exact rejection reasons."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from sidecar.triggers.webhook_verify import (
    MISSING_SIGNATURE,
    MISSING_TOKEN,
    NO_SECRET,
    SIGNATURE_MISMATCH,
    TOKEN_MISMATCH,
    constant_time_equal,
    sign,
    verify_hmac,
    verify_token,
)

SECRET = "whsec_test-secret-value"
BODY = b'{"order": 42}'
DIGEST = hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Hub-Signature-256": "sha256=" + DIGEST.hex()},
        {"x-signature-256": DIGEST.hex().upper()},
        {"X-Webhook-Signature": base64.b64encode(DIGEST).decode()},
        {"X-Webhook-Signature": "sha256=" + base64.urlsafe_b64encode(DIGEST).decode().rstrip("=")},
    ],
)
def test_a_correct_signature_in_any_accepted_form_passes(headers: dict[str, str]) -> None:
    assert verify_hmac(SECRET, BODY, headers) is None


def test_sign_produces_what_verify_accepts() -> None:
    assert verify_hmac(SECRET, BODY, {"X-Hub-Signature-256": "sha256=" + sign(SECRET, BODY)}) is None


def test_reasons_are_the_contracts() -> None:
    assert verify_hmac(None, BODY, {}) == NO_SECRET == "no secret configured for this hook"
    assert verify_hmac(SECRET, BODY, {}) == MISSING_SIGNATURE
    assert MISSING_SIGNATURE.startswith("missing signature header (one of X-Hub-Signature-256")
    assert verify_hmac(SECRET, BODY, {"X-Hub-Signature-256": "sha256=" + "0" * 64}) == SIGNATURE_MISMATCH
    assert SIGNATURE_MISMATCH == "HMAC-SHA256 signature mismatch"
    assert verify_token(SECRET, {}, {}) == MISSING_TOKEN
    assert MISSING_TOKEN.startswith("missing webhook token (")
    assert (
        verify_token(SECRET, {"X-Webhook-Token": "nope"}, {})
        == TOKEN_MISMATCH
        == "webhook token does not match"
    )


def test_the_signature_covers_every_byte_of_the_raw_body() -> None:
    headers = {"X-Hub-Signature-256": "sha256=" + DIGEST.hex()}
    for index in range(len(BODY)):
        changed = bytearray(BODY)
        changed[index] ^= 0x01
        assert verify_hmac(SECRET, bytes(changed), headers) == SIGNATURE_MISMATCH
    assert verify_hmac(SECRET, BODY + b" ", headers) == SIGNATURE_MISMATCH


@pytest.mark.parametrize("signature", ["sha256=", "garbage", "sha256=" + DIGEST.hex()[:-2], "%%%%"])
def test_malformed_signatures_are_mismatches(signature: str) -> None:
    assert verify_hmac(SECRET, BODY, {"X-Hub-Signature-256": signature}) == SIGNATURE_MISMATCH


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"X-Webhook-Token": SECRET}, {}),
        ({"Authorization": f"Bearer {SECRET}"}, {}),
        ({}, {"token": SECRET}),
    ],
)
def test_a_token_from_any_of_its_three_sources_passes(headers: dict[str, str], query: dict[str, str]) -> None:
    assert verify_token(SECRET, headers, query) is None


def test_constant_time_equal_compares_content_of_any_length() -> None:
    assert constant_time_equal(b"abc", b"abc")
    assert not constant_time_equal(b"abc", b"abcd")
    assert not constant_time_equal(b"", b"a")
