"""Scrubbing of secrets before anything reaches ``executions.sqlite`` (contract §8.5).

Headers on the contract's list and body keys matching its pattern become ``[REDACTED]``; containers deeper
than the depth limit are cut. Every redacted string is also remembered as a *secret value*, so a run's
later step data that carries the same string (a password wired from the Request node into a Function
node under another port name) is redacted too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeGuard

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
    r"|key[-_]?hash|hmac|authorization|credential|salt",
    re.IGNORECASE,
)


@dataclass(slots=True)
class Scrubber:
    """Scrubs one run's data; keeps the secret values it has seen so later payloads hide them too."""

    secrets: set[str] = field(default_factory=set)

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
            return self._hide_known(value) if self.secrets else value
        if kind in _SCALARS:  # the common case on the hot path: checked before any isinstance
            return value
        if kind is dict and depth < MAX_DEPTH and self._is_clean_flat(value):
            return value
        if isinstance(value, str):
            return self._hide_known(value)
        to_json = getattr(value, "to_json", None)  # a Noodl object: scrub the fields it serialises
        if callable(to_json):
            value = to_json()
        if isinstance(value, Mapping):
            if depth >= MAX_DEPTH:
                return TOO_DEEP
            return {str(k): self._entry(str(k), v, depth + 1) for k, v in value.items()}
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
            elif kind not in _SCALARS:
                return False
            if key not in _HARMLESS_KEYS and not _harmless_key(key):
                return False
        return chars <= _AS_IS_MAX_CHARS

    def _is_clean_flat(self, mapping: dict[Any, Any]) -> bool:
        """Scalars (and strings while no secret is known) under harmless keys: nothing to redact."""
        plain = _SCALARS if self.secrets else _SCALARS_AND_TEXT
        for key, item in mapping.items():  # a plain loop: cheaper than all() over a generator here
            if type(item) not in plain or type(key) is not str or is_secret_key(key):
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
        return self._hide_known(text)

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
    """Port and field names repeat run after run; the pattern is tested once per distinct name."""
    return SECRET_KEY.search(key) is not None


def is_request_shape(inputs: Mapping[str, Any]) -> bool:
    """The runtime hands the Request node the raw request: ``{headers, body}`` with the body as text."""
    return inputs.keys() == {"headers", "body"} and isinstance(inputs.get("body"), str)
