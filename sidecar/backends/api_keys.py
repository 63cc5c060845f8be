"""API keys of one backend: issued once, stored only as a hash, revoked for good.

Kept in ``<dataDir>/api-keys.json`` (mode 0600, written atomically) rather than as ``_ApiKey`` rows:
the store refuses unknown ``_``-prefixed classes, and a file keeps key hashes out of every Parse route
and export. A key is ``ngx_`` + 43 URL-safe characters (256 random bits), so a plain SHA-256 is
enough to store it; the plaintext is returned by :meth:`ApiKeyRing.create` and never again.

Scopes: ``data:read``, ``data:write``, ``functions:call`` (every function) and ``functions:<name>``.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sidecar.errors import ApiKeyNotFoundError, InvalidSecurityPolicyError, SecurityFileError
from sidecar.jsonfile import write_json_atomic

FILE_NAME = "api-keys.json"
KEY_PREFIX = "ngx_"
DATA_SCOPES = ("data:read", "data:write")
ALL_FUNCTIONS = "functions:call"
_FUNCTION_SCOPE = re.compile(r"^functions:[^/\s]{1,128}$")
_NAME_LIMIT = 200


@dataclass(frozen=True)
class ApiKey:
    object_id: str
    name: str
    scopes: tuple[str, ...]
    key_hash: str
    shown_prefix: str
    """The first characters of the key, so a user can tell keys apart without the secret."""
    created_at: str
    acts_as_user_id: str | None = None
    revoked_at: str | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_wire(self) -> dict[str, Any]:
        """What list and create answer: never the hash."""
        return {
            "objectId": self.object_id,
            "name": self.name,
            "scopes": list(self.scopes),
            "prefix": self.shown_prefix,
            "createdAt": self.created_at,
            "actsAsUserId": self.acts_as_user_id,
            "revoked": self.revoked,
            "revokedAt": self.revoked_at,
        }

    def to_file(self) -> dict[str, Any]:
        return {**self.to_wire(), "keyHash": self.key_hash}

    @classmethod
    def from_file(cls, raw: dict[str, Any]) -> ApiKey:
        return cls(
            object_id=str(raw["objectId"]),
            name=str(raw["name"]),
            scopes=tuple(str(scope) for scope in raw["scopes"]),
            key_hash=str(raw["keyHash"]),
            shown_prefix=str(raw["prefix"]),
            created_at=str(raw["createdAt"]),
            acts_as_user_id=raw.get("actsAsUserId"),
            revoked_at=raw.get("revokedAt"),
        )


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def validate_scopes(scopes: Any) -> tuple[str, ...]:
    if not isinstance(scopes, list) or not scopes:
        raise InvalidSecurityPolicyError(["scopes: must be a non-empty array"])
    bad = [
        scope
        for scope in scopes
        if not isinstance(scope, str) or not (scope in DATA_SCOPES or _FUNCTION_SCOPE.match(scope))
    ]
    if bad:
        raise InvalidSecurityPolicyError(
            [
                f"scopes: unknown scope {scope!r} (use data:read, data:write, functions:call or "
                "functions:<name>)"
                for scope in bad
            ]
        )
    return tuple(dict.fromkeys(scopes))


def may_call(scopes: Iterable[str], function: str) -> bool:
    granted = set(scopes)
    return ALL_FUNCTIONS in granted or f"functions:{function}" in granted


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ApiKeyRing:
    """The backend's keys, in memory for a lookup per request, persisted on every change."""

    def __init__(self, path: Path, keys: list[ApiKey]) -> None:
        self._path = path
        self._keys = {key.object_id: key for key in keys}
        self._by_hash = {key.key_hash: key.object_id for key in keys}

    @classmethod
    def open(cls, data_dir: Path) -> ApiKeyRing:
        path = data_dir / FILE_NAME
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            keys = [ApiKey.from_file(entry) for entry in raw["keys"]]
        except FileNotFoundError:
            keys = []
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SecurityFileError(str(path), [f"{type(exc).__name__}: {exc}"]) from exc
        return cls(path, keys)

    def list(self) -> list[ApiKey]:
        return sorted(self._keys.values(), key=lambda key: key.created_at)

    def create(self, name: str, scopes: tuple[str, ...], acts_as_user_id: str | None) -> tuple[ApiKey, str]:
        """The new key and its plaintext (shown this once)."""
        if not name.strip() or len(name) > _NAME_LIMIT:
            raise InvalidSecurityPolicyError([f"name: must be 1 to {_NAME_LIMIT} characters"])
        plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            object_id=secrets.token_hex(5),
            name=name,
            scopes=scopes,
            key_hash=hash_key(plaintext),
            shown_prefix=plaintext[:10],
            created_at=_now(),
            acts_as_user_id=acts_as_user_id,
        )
        self._commit({**self._keys, key.object_id: key})
        return key, plaintext

    def revoke(self, object_id: str) -> ApiKey:
        key = self._keys.get(object_id)
        if key is None:
            raise ApiKeyNotFoundError(object_id)
        if not key.revoked:
            key = replace(key, revoked_at=_now())
            self._commit({**self._keys, object_id: key})
        return key

    def find(self, plaintext: str) -> ApiKey | None:
        """The live key with this plaintext; ``None`` for an unknown or revoked one."""
        # Looking up by hash leaks nothing about a key's plaintext, so no constant-time compare is needed.
        object_id = self._by_hash.get(hash_key(plaintext))
        key = self._keys.get(object_id) if object_id is not None else None
        return None if key is None or key.revoked else key

    def _commit(self, keys: dict[str, ApiKey]) -> None:
        """Write first, then swap: a failed write leaves the ring as the file still says."""
        entries = sorted(keys.values(), key=lambda key: key.created_at)
        write_json_atomic(self._path, {"version": 1, "keys": [key.to_file() for key in entries]}, mode=0o600)
        self._keys = keys
        self._by_hash = {key.key_hash: key.object_id for key in keys.values()}
