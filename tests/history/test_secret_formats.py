"""Secrets recognised by their format are hidden in place wherever they travel in a recorded run.

The samples are assembled at run time (``"sk_" + "live_" + …``): they have the real formats but are no
one's keys, and the source holds no literal a secret scanner would stop.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid
from pathlib import Path
from typing import Any

import pytest

from sidecar.events import EventBus
from sidecar.history import ExecutionHistory
from sidecar.history.scrub import REDACTED, Scrubber, is_secret_key, scrub_request
from sidecar.secret_text import has_secret, redact_secrets
from tests.history.test_recorder import database_bytes, run_recorded

BACKEND = "backend_test"
_R = random.Random(15)


def _token(alphabet: str, length: int) -> str:
    return "".join(_R.choice(alphabet) for _ in range(length))


ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
AWS_ID = "AKIA" + _token("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
AWS_SECRET = _token(B64, 40)
JWT = ".".join(
    [
        base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("="),
        base64.urlsafe_b64encode(b'{"sub":"1234567890","name":"Ada"}').decode().rstrip("="),
        _token(URLSAFE, 43),
    ]
)
PEM_BODY = "\n".join(_token(B64, 64) for _ in range(4))
PEM = "-----BEGIN " + "RSA PRIVATE KEY-----\n" + PEM_BODY + "\n-----END RSA PRIVATE KEY-----"

# kind → a secret of that kind, replaced whole by [REDACTED:<kind>]
WHOLE: dict[str, list[str]] = {
    "stripe": [
        "sk_" + "live_" + _token(ALNUM, 24),
        "sk_" + "test_" + _token(ALNUM, 24),
        "rk_" + "live_" + _token(ALNUM, 24),
        "whsec_" + _token(ALNUM, 32),
    ],
    "github": [
        *(prefix + "_" + _token(ALNUM, 36) for prefix in ("ghp", "gho", "ghu", "ghs", "ghr")),
        "github_" + "pat_" + _token(ALNUM, 22) + "_" + _token(ALNUM, 59),
    ],
    "aws": [AWS_ID, "ASIA" + _token("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)],
    "slack": [
        "xoxb-" + _token("0123456789", 12) + "-" + _token("0123456789", 13) + "-" + _token(ALNUM, 24),
        "xoxp-" + _token("0123456789", 12) + "-" + _token(ALNUM, 32),
        "xapp-1-A" + _token("0123456789", 10) + "-" + _token(ALNUM, 40),
        "hooks.slack.com/services/T" + _token(ALNUM, 8) + "/B" + _token(ALNUM, 8) + "/" + _token(ALNUM, 24),
    ],
    "openai": ["sk-" + _token(ALNUM, 48), "sk-" + "proj-" + _token(URLSAFE, 64)],
    "anthropic": ["sk-" + "ant-api03-" + _token(URLSAFE, 80)],
    "google": ["AIza" + _token(URLSAFE, 35)],
    "jwt": [JWT],
    "pem": [PEM, PEM.replace("RSA PRIVATE KEY", "PGP PRIVATE KEY BLOCK")],
}
# (text, what is left of it): the credential of a scheme or the password of a URL, the rest kept
PARTIAL = [
    ("Authorization: Bearer abc.DEF-123_456", "Authorization: Bearer [REDACTED:authorization]"),
    ("authorization=Basic dXNlcjpodW50ZXIy", "authorization=Basic [REDACTED:authorization]"),
    ("header was Bearer 9f8e7d6c5b4a3210", "header was Bearer [REDACTED:bearer]"),
    ("Authorization: tok_9f8e7d6c5b4a", "Authorization: [REDACTED:authorization]"),
    ("https://ada:hunter2@api.example.com/v1", "https://ada:[REDACTED:password]@api.example.com/v1"),
    ("redis://:s3cr3t@cache:6379/0", "redis://:[REDACTED:password]@cache:6379/0"),
    (f"aws_secret_access_key = {AWS_SECRET}", "aws_secret_access_key = [REDACTED:aws]"),
    (f'"SecretAccessKey": "{AWS_SECRET}"', '"SecretAccessKey": "[REDACTED:aws]"'),
    (f"{AWS_ID} {AWS_SECRET}", "[REDACTED:aws] [REDACTED:aws]"),
]
EVERY_SECRET = [secret for secrets in WHOLE.values() for secret in secrets]


def _whole_cases() -> list[tuple[str, str]]:
    return [(kind, secret) for kind, secrets in WHOLE.items() for secret in secrets]


@pytest.mark.parametrize(("kind", "secret"), _whole_cases())
def test_each_format_is_replaced_in_place_and_the_text_around_it_is_kept(kind: str, secret: str) -> None:
    text = f"config: {secret} (set by Ada)"
    assert redact_secrets(text) == f"config: [REDACTED:{kind}] (set by Ada)"
    assert redact_secrets(secret) == f"[REDACTED:{kind}]"


@pytest.mark.parametrize(("text", "expected"), PARTIAL)
def test_credentials_after_a_scheme_and_url_passwords_are_replaced_alone(text: str, expected: str) -> None:
    assert redact_secrets(text) == expected


def test_several_secrets_in_one_text_are_all_replaced() -> None:
    text = "\n".join(f"{kind}={secret};" for kind, secret in _whole_cases())
    redacted = redact_secrets(text)
    assert [line.split("=", 1)[1] for line in redacted.splitlines() if "=" in line] == [
        f"[REDACTED:{kind}];" for kind, _ in _whole_cases()
    ]


def _plain_samples() -> list[str]:
    rng = random.Random(7)
    image = "data:image/png;base64," + base64.b64encode(rng.randbytes(30_000)).decode()
    return [
        *(str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(200)),
        *(hashlib.sha256(rng.randbytes(16)).hexdigest() for _ in range(100)),
        *(hashlib.md5(rng.randbytes(16)).hexdigest() for _ in range(100)),
        *(base64.b64encode(rng.randbytes(rng.randint(8, 600))).decode() for _ in range(300)),
        *(base64.urlsafe_b64encode(rng.randbytes(rng.randint(8, 600))).decode() for _ in range(300)),
        image,
        "risk-assessment-report-2024-final",
        "desk-lamp-PRO-2024-edition-large",
        "task_live_session_counter_2024",
        "the bearer of this letter is welcome",
        "Basic settings are explained in chapter 2.",
        "Authorization required: please log in first",
        "Authorization: required for every admin route",
        "sk-2024-report-final-version-of-the-plan-b",
        "https://example.com:8443/path@v2?q=1",
        "mailto:ada@example.com",
        "ada.lovelace+orders@example.com",
        "2026-12-07T10:00:00.000Z",
        "user_access_key_id",
        "Order #1234 for Ada, total 99.50 EUR, ship to Main St 1, Berlin",
        "AKIAISNOTAKEY",
        "eyJ is how base64 JSON starts",
        json.dumps({"objectId": "xWMyZ4YEGZ", "name": "Ada", "sessionToken": "r:abc"}),
    ]


def test_plain_data_is_never_taken_for_a_secret() -> None:
    flagged = [text[:60] for text in _plain_samples() if has_secret(text)]
    assert flagged == []


def test_plain_strings_come_back_as_the_same_objects() -> None:
    scrubber = Scrubber()
    for text in _plain_samples():
        assert scrubber.value(text) is text


@pytest.mark.parametrize(
    "key",
    [
        "stripe_key",
        "STRIPE_KEY",
        "stripeKey",
        "openai-key",
        "license_key",
        "encryptionKey",
        "jwt",
        "pm-stripe_key",
    ],
)
def test_key_names_ending_in_key_are_secret(key: str) -> None:
    logged = scrub_request({}, json.dumps({key: "value-123", "name": "ada"}))
    assert logged["body"] == {key: REDACTED, "name": "ada"}


@pytest.mark.parametrize(
    "key",
    ["sortKey", "primary_key", "publicKey", "idempotency_key", "monkey", "keyboard", "key", "keys", "in-key"],
)
def test_data_keys_and_words_containing_key_are_not(key: str) -> None:
    assert not is_secret_key(key)


def test_the_issue_reproduction_a_stripe_key_under_stripe_key_is_redacted() -> None:
    secret = WHOLE["stripe"][0]
    logged = scrub_request({}, json.dumps({"stripe_key": secret, "note": f"use {secret} for payouts"}))
    assert logged["body"] == {"stripe_key": REDACTED, "note": "use [REDACTED:stripe] for payouts"}


def test_an_aws_secret_key_beside_its_key_id_is_hidden_under_any_name() -> None:
    scrubbed = Scrubber().value({"creds": {"id": AWS_ID, "s": AWS_SECRET, "region": "eu-central-1"}})
    assert scrubbed == {"creds": {"id": "[REDACTED:aws]", "s": "[REDACTED:aws]", "region": "eu-central-1"}}


def test_flat_port_values_with_a_secret_are_not_stored_as_is() -> None:
    scrubber = Scrubber()
    assert scrubber.storable_as_is({"in-name": "Ada", "in-note": "hello there"})
    assert not scrubber.storable_as_is({"in-name": "Ada", "in-note": f"key {WHOLE['google'][0]}"})


def test_a_secret_at_the_head_of_a_string_too_long_to_store_is_hidden() -> None:
    """Such a string's payload is stored truncated to a preview of its head: the head is what counts."""
    secret = WHOLE["github"][0]
    scrubbed = Scrubber().value({"doc": f"token {secret} " + "x" * 60_000})
    assert secret not in json.dumps(scrubbed)


# ---- a recorded run -----------------------------------------------------------------------------------


def _carrier() -> str:
    """One text holding every secret, as a user might paste them into a form field."""
    return " | ".join([*EVERY_SECRET, *(text for text, _ in PARTIAL)])


def _leaked(text: str) -> list[str]:
    """The secrets (or their secret parts) still present in ``text``."""
    parts = [*EVERY_SECRET, AWS_SECRET, "hunter2", "s3cr3t", "dXNlcjpodW50ZXIy", "abc.DEF-123_456"]
    parts += ["9f8e7d6c5b4a3210", "tok_9f8e7d6c5b4a", PEM_BODY.splitlines()[0]]
    escaped = [json.dumps(part)[1:-1] for part in parts]  # as they would appear inside stored JSON
    return [part for part, raw in zip(parts, escaped, strict=True) if part in text or raw in text]


async def test_a_recorded_run_keeps_no_secret_in_request_steps_errors_events_or_the_file(
    history: ExecutionHistory, bus: EventBus, tmp_path: Path, history_url: str | None
) -> None:
    subscription = bus.subscribe(BACKEND)
    carrier = _carrier()
    # The Function node builds its output from the secret-carrying input, and a secret of its own.
    script = "Outputs.greeting = 'Hello ' + Inputs.name + ' ' + 'ghp_' + 'Z'.repeat(36); Outputs.Done();"
    body = {"flag": True, "name": carrier, "stripe_key": WHOLE["stripe"][0], "note": {"text": carrier}}

    stored = await run_recorded(history, body, {"X-Trace": f"trace {JWT}"}, script=script)
    bus.unsubscribe(subscription.id)
    events = [event.to_wire() async for event in subscription]
    await history.close()

    assert stored["status"] == "success"
    assert stored["triggerData"]["body"]["stripe_key"] == REDACTED
    assert "[REDACTED:stripe]" in stored["triggerData"]["body"]["name"]
    assert stored["triggerData"]["headers"]["X-Trace"] == "trace [REDACTED:jwt]"
    function = next(step for step in stored["steps"] if step["nodeId"] == "fn-3")
    greeting = function["outputData"]["out-greeting"]
    assert greeting.startswith("Hello [REDACTED:stripe] | [REDACTED:stripe]")
    assert greeting.endswith(" [REDACTED:github]")
    assert _leaked(json.dumps(stored)) == []
    assert _leaked(json.dumps(events)) == []
    assert _leaked((await database_bytes(tmp_path, history_url)).decode("utf-8", "replace")) == []


async def test_a_secret_in_a_script_error_is_hidden_in_the_step_and_the_execution(
    history: ExecutionHistory, tmp_path: Path, history_url: str | None
) -> None:
    secret = WHOLE["openai"][0]
    script = "throw new Error('upstream refused key ' + Inputs.name);"

    stored = await run_recorded(history, {"flag": True, "name": secret}, script=script)
    await history.close()

    function = next(step for step in stored["steps"] if step["nodeId"] == "fn-3")
    assert "upstream refused key [REDACTED:openai]" in function["errorMessage"]
    assert _leaked(json.dumps(stored)) == []
    assert _leaked((await database_bytes(tmp_path, history_url)).decode("utf-8", "replace")) == []


def test_secret_values_in_the_sample_table_are_distinct_from_their_markers() -> None:
    """Guards the table itself: every sample is long enough to be searched and is found."""
    assert all(has_secret(secret) for secret in EVERY_SECRET)
    assert all(has_secret(text) for text, _ in PARTIAL)


def test_every_kind_has_a_marker_of_its_own() -> None:
    markers: dict[str, Any] = {kind: redact_secrets(secrets[0]) for kind, secrets in WHOLE.items()}
    assert markers == {kind: f"[REDACTED:{kind}]" for kind in WHOLE}
