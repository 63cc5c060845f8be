"""Well-known secret formats found inside text, and replaced in place by ``[REDACTED:<kind>]``.

History scrubbing (``sidecar.history.scrub``) hides values by the *name* they travel under; this module
hides them by their *shape*, wherever they sit: a Stripe key pasted into a note, a JWT in an error message,
an ``Authorization: Bearer …`` line in a log. The surrounding text stays; only the secret is replaced, with
a marker naming its kind (``[REDACTED:stripe]``) so a reader knows what was there.

Recognised: Stripe secret, restricted and webhook keys; GitHub tokens; AWS access key ids and the secret
keys written next to them; Slack tokens and webhook URLs; OpenAI and Anthropic keys; Google API keys; JWTs;
PEM private key blocks; bearer credentials; passwords in URLs (``https://user:pass@host``). Values the
credential store hands out or takes in (:func:`add_known_secrets`) are hidden whatever their format, as
``[REDACTED:credential]``.

Speed matters: this runs on every recorded step. Text shorter than :data:`MIN_SECRET_CHARS` is not
searched; other text first goes through substring tests (one needle each format must contain), which
most text fails; only the rest is searched with the one compiled pattern of all formats, whose
alternatives each start with a fixed character that is rare in prose and base64, so the regex engine
skips ahead with a character-set scan. A prefix must start a word where ordinary text could otherwise
contain it (``risk-assessment-…`` is no OpenAI key).
"""

from __future__ import annotations

import re

MARKER_PREFIX = "[REDACTED"
MIN_SECRET_CHARS = 8
"""Shorter text holds no format below (the shortest is a password in a URL, ``a://:p@h``): not searched."""

# Each alternative starts with a literal character (see the module docstring), chosen to be rare in prose
# and in base64: the "_" of "sk_live_", the "J" of "eyJ", the "z" of "Authorization"; a lookbehind then
# checks the characters before it. Each holds one named group: empty at its end when the match (plus the
# ``_LEAD`` characters before it) is the secret, or around the part to replace (the password of a URL,
# the credential after ``Bearer``). The kind shown in the marker is the group name without its digit.
_ALTERNATIVES = (
    # Stripe: secret and restricted keys (live and test), webhook signing secrets.
    r"_(?<=\b[sr]k_)(?:live|test)_[0-9A-Za-z]{10,}(?P<stripe1>)",
    r"_(?<=\bwhsec_)[0-9A-Za-z+/=_-]{20,}(?P<stripe2>)",
    # GitHub: personal, OAuth, user-to-server, server-to-server and refresh tokens; fine-grained PATs.
    r"_(?<=\bgh[pousr]_)[0-9A-Za-z]{30,}(?P<github1>)",
    r"_(?<=\bgithub_)pat_[0-9A-Za-z_]{30,}(?P<github2>)",
    # AWS: long-term and temporary access key ids; secret keys written under their usual names.
    r"A(?<=\bA)(?:KIA|SIA)[0-9A-Z]{16}\b(?P<aws1>)",
    r"k(?<=[Ss]ecret_access_k)ey[\"']?\s*[:=]\s*[\"']?(?P<aws2>[0-9A-Za-z/+]{40})(?![0-9A-Za-z/+=])",
    r"K(?<=[Ss]ecretAccessK)ey[\"']?\s*[:=]\s*[\"']?(?P<aws3>[0-9A-Za-z/+]{40})(?![0-9A-Za-z/+=])",
    r"K(?<=SECRET_ACCESS_K)EY[\"']?\s*[:=]\s*[\"']?(?P<aws4>[0-9A-Za-z/+]{40})(?![0-9A-Za-z/+=])",
    # Slack: bot, app, user, refresh and legacy tokens; incoming-webhook and workflow URLs.
    r"-(?<=\bxox[baprse]-)[0-9A-Za-z-]{10,}(?P<slack1>)",
    r"-(?<=\bxapp-)[0-9A-Za-z-]{10,}(?P<slack3>)",
    r"\.(?<=hooks\.)slack\.com/(?:services|workflows|triggers)/[0-9A-Za-z/_-]+(?P<slack2>)",
    # Anthropic before OpenAI: both start with "sk-". An OpenAI key is long and has capitals (random
    # base62), so a kebab-case id after "sk-" is left alone.
    r"-(?<=\bsk-)ant-[0-9A-Za-z_-]{32,}(?P<anthropic1>)",
    r"-(?<=\bsk-)(?=[0-9A-Za-z_-]*[A-Z])[0-9A-Za-z_-]{32,}(?P<openai1>)",
    # Google API keys.
    r"A(?<=\bA)Iza[0-9A-Za-z_-]{35,}(?P<google1>)",
    # JWT (and JWS): a base64url JSON header, a payload and a signature.
    r"J(?<=\beyJ)[0-9A-Za-z_-]{5,}\.[0-9A-Za-z_-]{2,}\.[0-9A-Za-z_-]{10,}(?P<jwt1>)",
    # PEM private keys (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted); a block cut short is hidden to the end.
    r"-----BEGIN[A-Z ]{0,20} PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
    r"(?:-----END[A-Z ]{0,20} PRIVATE KEY(?: BLOCK)?-----|\Z)"
    r"(?P<pem1>)",
    # Bearer credentials in text ("Authorization: Bearer …"); the word alone in prose is not followed by a
    # token with a digit or a symbol. Lower case "bearer" counts only after "authorization".
    r"B(?:earer|EARER)\s+(?P<bearer1>(?=[0-9A-Za-z._~+/=-]*[0-9._~+/=-])[0-9A-Za-z._~+/-]{8,}=*)",
    # "Authorization: Basic <base64>" (or any other scheme, or none) written out in text; without a scheme
    # the credential needs a digit or a symbol ("Authorization: required" is prose).
    r"z(?<=[Aa]uthoriz)ation[\"']?\s*[:=]\s*[\"']?"
    r"(?:[A-Za-z]+\s+(?P<authorization1>[0-9A-Za-z._~+/-]{6,}=*)"
    r"|(?P<authorization2>(?=[0-9A-Za-z._~+/=-]*[0-9._~+/=-])[0-9A-Za-z._~+/-]{8,}=*))",
    r"Z(?<=AUTHORIZ)ATION[\"']?\s*[:=]\s*[\"']?"
    r"(?:[A-Za-z]+\s+(?P<authorization3>[0-9A-Za-z._~+/-]{6,}=*)"
    r"|(?P<authorization4>(?=[0-9A-Za-z._~+/=-]*[0-9._~+/=-])[0-9A-Za-z._~+/-]{8,}=*))",
    # The password of a URL: scheme://user:password@host (the user may be empty: redis://:pw@host).
    r"://[^\s/?#@:\"'<>]*:(?P<password1>[^\s/?#@\"'<>]+)@",
)
# Characters of a secret that lie before its alternative's first character (matched by the lookbehind).
_LEAD = {"stripe1": 2, "stripe2": 5, "github1": 3, "github2": 6, "slack1": 4, "slack2": 5, "slack3": 4}
_LEAD |= {"anthropic1": 2, "openai1": 2, "jwt1": 2}
SECRET_PATTERN = re.compile("|".join(_ALTERNATIVES))
_search = SECRET_PATTERN.search
_KIND = {name: name.rstrip("0123456789") for name in SECRET_PATTERN.groupindex}
_MARKER = {kind: f"{MARKER_PREFIX}:{kind}]" for kind in set(_KIND.values())}

AWS_MARKER = _MARKER["aws"]
# A bare AWS secret key (40 characters of base64) is recognisable only beside its key id.
_AWS_SECRET_KEY = re.compile(r"(?<![0-9A-Za-z/+=])[0-9A-Za-z/+]{40}(?![0-9A-Za-z/+=])")


KNOWN_MARKER = f"{MARKER_PREFIX}:credential]"
_known: tuple[str, ...] = ()
"""Exact secret values of this process (credential values), longest first so none is cut by a shorter one.
Replaced whole, never changed in place: the history writer's thread may be reading it."""
_known_search: re.Pattern[str] | None = None
"""One pattern of all of them: a single C-level scan costs less than a substring test per value."""


def add_known_secrets(values: list[str]) -> None:
    """Hide these exact values too, in history and log lines alike; values shorter than
    :data:`MIN_SECRET_CHARS` are not taken (they would blank out ordinary text)."""
    global _known, _known_search
    fresh = {value for value in values if len(value) >= MIN_SECRET_CHARS} - set(_known)
    if fresh:
        known = tuple(sorted([*_known, *fresh], key=len, reverse=True))
        _known_search = re.compile("|".join(re.escape(value) for value in known))
        _known = known


def _holds_known(text: str) -> bool:
    pattern = _known_search
    return pattern is not None and pattern.search(text) is not None


def has_secret(text: str) -> bool:
    """Whether ``text`` holds any recognised secret (cheap for short and plain text)."""
    return (
        len(text) >= MIN_SECRET_CHARS
        and may_hold_secret(text)
        and (_search(text) is not None or _holds_known(text))
    )


def may_hold_secret(text: str) -> bool:
    """Substrings every match of some alternative contains, each first gated by one of its characters that
    is rare in ordinary text: a one-character test runs at memchr speed, a longer one ten times slower,
    and the pattern's own scan slower still. Most text (ids, dates, prose, base64) fails them all."""
    return (
        "_" in text  # Stripe (sk_live_, whsec_), GitHub (ghp_, github_pat_), secret_access_key
        or ("-" in text and ("sk-" in text or "xox" in text or "xapp" in text or "-----" in text))  # PEM
        or ("I" in text and ("AKIA" in text or "ASIA" in text or "AIza" in text))  # AWS key id, Google
        or ("J" in text and "eyJ" in text)  # JWT
        or ("K" in text and "ccessKey" in text)  # SecretAccessKey
        or ("/" in text and ("hooks.slack" in text or ("@" in text and "://" in text)))  # Slack, URL
        or ("B" in text and ("Bearer" in text or "BEARER" in text))
        or (("z" in text or "Z" in text) and ("uthoriz" in text or "UTHORIZ" in text))
        or _holds_known(text)  # no pattern unless the credential store registered values
    )


def redact_secrets(text: str) -> str:
    """``text`` with every recognised secret replaced by its marker; the same object when none is found."""
    if not has_secret(text):
        return text
    pattern = _known_search
    if pattern is not None and pattern.search(text) is not None:
        text = pattern.sub(KNOWN_MARKER, text)
        if not has_secret(text):
            return text
    pieces: list[str] = []
    done = 0  # text before this index is in pieces
    for match in SECRET_PATTERN.finditer(text):
        name = match.lastgroup
        assert name is not None  # every alternative has exactly one named group
        start, end = match.span(name)
        if start == end:  # an empty group at the end: the match (and its lead) is the secret
            start, end = max(done, match.start() - _LEAD.get(name, 0)), match.end()
        pieces += (text[done:start], _MARKER[_KIND[name]])
        done = end
    pieces.append(text[done:])
    redacted = "".join(pieces)
    if AWS_MARKER in redacted:
        redacted = redact_aws_secret_key(redacted)
    return redacted


def redact_aws_secret_key(text: str) -> str:
    """Text that held an AWS key id: a 40-character base64 word in it is taken for the secret key."""
    return _AWS_SECRET_KEY.sub(AWS_MARKER, text)


def is_marker(text: str) -> bool:
    """A whole value that is a redaction marker (``[REDACTED]`` or ``[REDACTED:<kind>]``)."""
    return text.startswith(MARKER_PREFIX) and text.endswith("]") and "]" not in text[:-1]
