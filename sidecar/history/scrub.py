"""Scrubbing of secrets before anything reaches ``executions.sqlite``
(docs/security.md, "What history scrubs").

Headers on the contract's list and body keys matching its pattern (plus names such as ``stripe_key`` that
end in *key*, see :func:`is_secret_key`) become ``[REDACTED]``; containers deeper than the depth limit are
cut. Every redacted string is also remembered as a *secret value*, so a run's later step data that carries
the same string (a password wired from the Request node into a Function node under another port name) is
redacted too. Strings anywhere are also searched for well-known secret formats (``sidecar.secret_text``):
a Stripe key inside a note becomes ``[REDACTED:stripe]`` with the note around it kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeGuard

from sidecar.history.payload import MAX_STORED_BYTES, STORED_PREVIEW_CHARS
from sidecar.secret_text import (
    AWS_MARKER,
    MIN_SECRET_CHARS,
    has_secret,
    may_hold_secret,
    redact_aws_secret_key,
    redact_secrets,
)

REDACTED = "[REDACTED]"
TOO_DEEP = "[MAX_DEPTH]"
UNPARSABLE_BODY = "[unparsable body]"
MAX_DEPTH = 6
_SCALARS = frozenset({int, float, bool, type(None)})
_SCALARS_AND_TEXT = _SCALARS | {str}
# At most 32 keys of at most 64 characters and 4,000 characters of text: even with every character
# escaped (6 bytes) and the longest numbers, the JSON stays well under the 50 KB above which stored
# payloads are truncated.
_AS_IS_MAX_KEYS = 32
_AS_IS_MAX_KEY_CHARS = 64
_AS_IS_MAX_CHARS = 4_000
_HARMLESS_KEYS: set[str] = set()  # port names seen to be short and not secret-like; they repeat run after run
_HARMLESS_KEYS_MAX = 4096
_MIN_SECRET_LENGTH = 4  # shorter strings ("1", "yes") would blank out unrelated data

SECRET_HEADERS = frozenset(
    {
        "authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-nodegx-api-key",
        "x-parse-master-key",
        "x-parse-session-token",
        "proxy-authorization",
    }
)
SECRET_KEY = re.compile(
    r"pass(word|wd)?|secret|token|api[-_]?key|access[-_]?key|signing[-_]?key|private[-_]?key"
    r"|key[-_]?hash|hmac|authorization|credential|salt"
    r"|bearer|jwt|cookie",
    re.IGNORECASE,
)
# Beyond the contract's list: a name ending in "key" as a word of its own (stripe_key, STRIPE_KEY,
# stripeKey, license-key), unless the word before it says it is a data key (sortKey, primary_key).
_KEY_SUFFIX = re.compile(r"([0-9A-Za-z]*[0-9A-Za-z])(?:[-_. ](?:key|Key|KEY)|(?<=[a-z0-9])Key)s?$")
_LAST_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+")
_DATA_KEY_WORDS = frozenset(
    {
        "attribute", "blob", "bucket", "cache", "child", "column", "composite", "cursor", "dedup", "dedupe",
        "dictionary", "entity", "event", "field", "file", "foreign", "group", "hot", "i18n", "idempotency",
        "index", "item", "keyboard", "label", "list", "lock", "lookup", "message", "music", "node", "object",
        "order", "page", "parent", "partition", "path", "primary", "property", "public", "publishable",
        "range", "record", "region", "routing", "row", "s3", "search", "sequence", "shard", "short",
        "shortcut", "sort", "table", "translation", "unique",
    }
)  # fmt: skip
# Counts of language-model tokens (inputTokens, max_tokens, completion_tokens) name no secret.
_TOKEN_COUNT = re.compile(
    r"(?:input|output|prompt|completion|total|max|cached|reasoning|cache[-_]?read|cache[-_]?creation)"
    r"[-_ ]?(?:input[-_ ]?)?tokens",
    re.IGNORECASE,
)
# Port names prefix a user's name (in-key, pm-key): these read like the bare name "key", which stays clear.
_PORT_PREFIXES = frozenset({"in", "out", "pm"})
_SECRET_MIN = MIN_SECRET_CHARS
# A string longer than the storage limit makes its payload truncated to a preview of its head
# (payload.encode): only that head can reach the database, so only it is searched for secret formats.
_STORED_HEAD_CHARS = STORED_PREVIEW_CHARS + 256  # and a secret that straddles its end
_LONG_TEXT = 512  # strings from here on are remembered per run once searched: values flow node to node
_LONG_TEXTS_KEPT = 64


@dataclass(slots=True)
class Scrubber:
    """Scrubs one run's data; keeps the secret values it has seen so later payloads hide them too."""

    secrets: set[str] = field(default_factory=set)
    aws_key_seen: bool = False
    """An AWS access key id was redacted: objects are then checked for the secret key beside it."""
    _long_texts: dict[int, tuple[str, str]] = field(default_factory=dict)

    def headers(self, headers: Mapping[str, Any]) -> dict[str, Any]:
        clean: dict[str, Any] = {}
        for name, value in headers.items():
            if _is_secret_header(name):
                self._remember(value)
                clean[name] = REDACTED
            else:
                clean[name] = self.value(value)
        return clean

    def value(self, value: Any, depth: int = 0) -> Any:
        """``value`` with secret keys, headers and known secret strings redacted (a copy when any is)."""
        kind = type(value)
        if kind is str:
            if len(value) >= _SECRET_MIN and (len(value) >= _LONG_TEXT or may_hold_secret(value)):
                value = self._redacted(value)
            return self._hide_known(value) if self.secrets else value
        if kind in _SCALARS:  # the common case on the hot path: checked before any isinstance
            return value
        if kind is dict and depth < MAX_DEPTH and self._is_clean_flat(value):
            return value
        if isinstance(value, str):
            return self._hide_known(self._redacted(str(value)))
        to_json = getattr(value, "to_json", None)  # a Noodl object: scrub the fields it serialises
        if callable(to_json):
            value = to_json()
        if isinstance(value, Mapping):
            if depth >= MAX_DEPTH:
                return TOO_DEEP
            clean = {str(k): self._entry(str(k), v, depth + 1) for k, v in value.items()}
            return _with_aws_secret_hidden(clean) if self.aws_key_seen else clean
        if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
            if depth >= MAX_DEPTH:
                return TOO_DEEP
            return [self.value(item, depth + 1) for item in value]
        return value

    def storable_as_is(self, value: Any) -> TypeGuard[dict[str, Any]]:
        """A dict the writer may serialize itself: clean and flat (nothing to redact) and short enough that
        its JSON can never need truncation. Steps mostly carry such dicts of port values."""
        if type(value) is not dict or len(value) > _AS_IS_MAX_KEYS:
            return False
        text_allowed = not self.secrets  # once a secret is known, strings must be checked for it
        chars = 0
        for key, item in value.items():
            kind = type(item)
            if kind is str and text_allowed:
                chars += len(item)
                if len(item) >= _SECRET_MIN and may_hold_secret(item) and has_secret(item):
                    return False
            elif kind not in _SCALARS:
                return False
            if key not in _HARMLESS_KEYS and not _harmless_key(key):
                return False
        return chars <= _AS_IS_MAX_CHARS

    def _is_clean_flat(self, mapping: dict[Any, Any]) -> bool:
        """Scalars (and strings while no secret is known) under harmless keys, no string holding a secret
        format: nothing to redact. Types and keys first: a nested value ends the check before any string
        is searched."""
        plain = _SCALARS if self.secrets else _SCALARS_AND_TEXT
        for key, item in mapping.items():  # a plain loop: cheaper than all() over a generator here
            if type(item) not in plain or type(key) is not str or is_secret_key(key):
                return False
        for item in mapping.values():
            if (
                type(item) is str
                and len(item) >= _SECRET_MIN
                and (len(item) >= _LONG_TEXT or may_hold_secret(item))
                and self._redacted(item) is not item
            ):
                return False
        return True

    def request(self, headers: Mapping[str, Any], body: str) -> dict[str, Any]:
        """The logged request shape: ``{headers, bodySize, body}`` with the body parsed when it is JSON."""
        clean_headers = self.headers(headers)
        try:
            parsed: Any = json.loads(body) if body else {}
        except ValueError:
            return {"headers": clean_headers, "bodySize": len(body), "body": UNPARSABLE_BODY}
        # Scrub keys first so the secrets are known before strings elsewhere in the body are checked
        # (a second pass, needed only once some secret is known).
        clean_body = self.value(parsed)
        if self.secrets:
            clean_body = self.value(clean_body)
        return {"headers": clean_headers, "bodySize": len(body), "body": clean_body}

    def text(self, text: str) -> str:
        """Free text (an error message): known secret values and well-known secret formats hidden."""
        return self._hide_known(self._redacted(text))

    def _redacted(self, text: str) -> str:
        """``text`` with secret formats hidden (see ``sidecar.secret_text``); long texts are searched once."""
        if len(text) < _LONG_TEXT:
            redacted = redact_secrets(text)
        else:
            known = self._long_texts.get(id(text))
            if known is not None and known[0] is text:
                return known[1]
            if len(text) > MAX_STORED_BYTES:
                head = text[:_STORED_HEAD_CHARS]
                clean_head = redact_secrets(head)
                redacted = text if clean_head is head else clean_head + text[_STORED_HEAD_CHARS:]
            else:
                redacted = redact_secrets(text)
            if len(self._long_texts) < _LONG_TEXTS_KEPT:
                self._long_texts[id(text)] = (text, redacted)  # holding text keeps its id from being reused
        if redacted is not text and AWS_MARKER in redacted:
            self.aws_key_seen = True
        return redacted

    def _entry(self, key: str, value: Any, depth: int) -> Any:
        if is_secret_key(key):
            self._remember(value)
            return REDACTED
        if key.lower() == "headers" and isinstance(value, Mapping):
            return self.headers(value)
        return self.value(value, depth)

    def _remember(self, value: Any) -> None:
        if isinstance(value, str) and value != REDACTED and len(value) >= _MIN_SECRET_LENGTH:
            self.secrets.add(value)
            # "Bearer abc…": the credential alone may travel on without its scheme.
            scheme, _, credential = value.partition(" ")
            if credential and len(credential) >= _MIN_SECRET_LENGTH and scheme.isalpha():
                self.secrets.add(credential)
        elif isinstance(value, Mapping):
            for item in value.values():
                self._remember(item)
        elif isinstance(value, list | tuple):
            for item in value:
                self._remember(item)

    def _hide_known(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


def scrub_request(headers: Mapping[str, Any], body: str) -> dict[str, Any]:
    """Stateless convenience for a single request (trigger data of rejected fires, tests)."""
    return Scrubber().request(headers, body)


def _harmless_key(key: object) -> bool:
    if type(key) is not str or len(key) > _AS_IS_MAX_KEY_CHARS or is_secret_key(key):
        return False
    if len(_HARMLESS_KEYS) < _HARMLESS_KEYS_MAX:
        _HARMLESS_KEYS.add(key)
    return True


@lru_cache(maxsize=1024)
def _is_secret_header(name: str) -> bool:
    """Header names repeat request after request; each is judged once."""
    return name.lower() in SECRET_HEADERS or is_secret_key(name)


@lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    """Port and field names repeat run after run; the patterns are tested once per distinct name."""
    if SECRET_KEY.search(key) is not None:
        return _TOKEN_COUNT.fullmatch(key) is None
    suffix = _KEY_SUFFIX.search(key)
    if suffix is None:
        return False
    words = _LAST_WORD.findall(suffix.group(1))
    word = words[-1].lower() if words else ""
    return word not in _DATA_KEY_WORDS and word not in _PORT_PREFIXES


def _with_aws_secret_hidden(mapping: dict[str, Any]) -> dict[str, Any]:
    """An object that held an AWS key id: a sibling string that looks like the secret key is hidden too
    (``{"id": "AKIA…", "secret": …}`` under names the key pattern would not know)."""
    if not any(type(item) is str and AWS_MARKER in item for item in mapping.values()):
        return mapping
    return {key: redact_aws_secret_key(item) if type(item) is str else item for key, item in mapping.items()}


def is_request_shape(inputs: Mapping[str, Any]) -> bool:
    """The runtime hands the Request node the raw request: ``{headers, body}`` with the body as text."""
    return inputs.keys() == {"headers", "body"} and isinstance(inputs.get("body"), str)
