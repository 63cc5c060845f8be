"""``credentials.json`` of one backend: create, list (never values), test, delete, and look up by name.

Each operation reads the file and writes it whole (atomically, mode 0600), so the IPC channels, the admin
routes and a running backend's nodes all see the same credentials without sharing an object. The file:

    {"version": 1, "keyId": "<16 hex>", "credentials": [
        {"name", "provider", "createdAt", "updatedAt", "lastTest": {status, message, testedAt} | null,
         "value": "v1.<base64url(nonce ‖ AES-GCM ciphertext)>"}]}
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from sidecar.credentials import checks
from sidecar.credentials.keys import KEY_ENV, KeyMaterial, load_key
from sidecar.errors import (
    CredentialExistsError,
    CredentialKeyError,
    CredentialNotFoundError,
    InvalidCredentialError,
)
from sidecar.jsonfile import write_json_atomic
from sidecar.lazy import Lazy
from sidecar.secret_text import add_known_secrets, redact_secrets

if TYPE_CHECKING:
    from sidecar.credentials.cipher import AesGcm

log = structlog.get_logger("sidecar.credentials")

CredentialList = list["CredentialInfo"]
Texts = list[str]

_CHANGING = threading.Lock()
"""Held around every read-change-write of a credentials file: the doors call the store from threads."""

FILE_NAME = "credentials.json"
FILE_VERSION = 1
MAX_VALUE_CHARS = 16_384
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_PROVIDER = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_NONCE_BYTES = 12
_CIPHER_PREFIX = "v1."
CREDENTIAL_ENV_PREFIX = "NOODL_CREDENTIAL_"

PROVIDER_ENV: dict[str, tuple[str, ...]] = {
    "anthropic": ("ANTHROPIC_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "fly": ("FLY_API_TOKEN",),
    "railway": ("RAILWAY_API_TOKEN", "RAILWAY_TOKEN"),
    "render": ("RENDER_API_KEY",),
}
"""The environment variables each provider's own tools read, the lookup's last fallback."""


def env_name_for(name: str) -> str:
    """``NOODL_CREDENTIAL_<NAME>``: the variable a deployed backend reads a credential from."""
    return CREDENTIAL_ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", name.upper())


@dataclass(frozen=True)
class CredentialInfo:
    """What listings show: everything but the value."""

    name: str
    provider: str
    created_at: str
    updated_at: str
    last_test: dict[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "provider": self.provider,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "lastTest": self.last_test,
            "env": env_name_for(self.name),
        }


@dataclass(frozen=True)
class ResolvedCredential:
    name: str
    value: str
    source: str
    """``store`` or ``env:<VARIABLE>``."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _aad(name: str) -> bytes:
    return f"noodl-credential/v1/{name}".encode()


def validate_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidCredentialError(
            "name: 1 to 64 characters, a letter first, then letters, digits, '_', '.' or '-'"
        )
    return name


def validate_provider(provider: Any) -> str:
    if provider is None:
        return "generic"
    if not isinstance(provider, str) or not _PROVIDER.match(provider):
        raise InvalidCredentialError("provider: 1 to 32 lower-case letters, digits, '_' or '-'")
    return provider


def validate_value(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidCredentialError("value: a non-empty string is required")
    if len(value) > MAX_VALUE_CHARS:
        raise InvalidCredentialError(f"value: at most {MAX_VALUE_CHARS} characters")
    return value


class CredentialStore:
    """The credentials of the backend whose data directory is ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / FILE_NAME

    # ---- the file ---------------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": FILE_VERSION, "keyId": None, "credentials": []}
        except (OSError, ValueError) as exc:
            raise CredentialKeyError(f"cannot read {self.path}: {exc}") from exc
        if not isinstance(document, dict) or not isinstance(document.get("credentials"), list):
            raise CredentialKeyError(f"{self.path} is not a credentials file")
        return document

    def _write(self, document: dict[str, Any]) -> None:
        document["credentials"].sort(key=lambda entry: entry["name"])
        write_json_atomic(self.path, document, mode=0o600)
        os.chmod(self.path, 0o600)

    def _key(self, document: dict[str, Any], *, create: bool) -> KeyMaterial:
        material = load_key(self.data_dir, create=create)
        if material is None:
            raise CredentialKeyError(
                f"no key for the credentials of {self.data_dir}: set ${KEY_ENV} or restore the key file",
                data={"keyId": document.get("keyId")},
            )
        expected = document.get("keyId")
        if expected and expected != material.key_id:
            raise CredentialKeyError(
                f"the credentials of {self.data_dir} were encrypted with key {expected}, but the key from "
                f"{material.source} is {material.key_id}: restore the key they were made with (or set "
                f"${KEY_ENV}), or delete and create them again",
                data={"keyId": expected, "found": material.key_id, "source": material.source},
            )
        return material

    @staticmethod
    def _entries(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {str(entry["name"]): entry for entry in document["credentials"] if isinstance(entry, dict)}

    # ---- operations -------------------------------------------------------------------------

    def list(self) -> CredentialList:
        return [_info(entry) for entry in self._entries(self._read()).values()]

    def create(self, name: Any, value: Any, provider: Any = None, *, replace: bool = False) -> CredentialInfo:
        clean_name, clean_value = validate_name(name), validate_value(value)
        clean_provider = validate_provider(provider)
        with _CHANGING:
            document = self._read()
            entries = self._entries(document)
            existing = entries.get(clean_name)
            if existing is not None and not replace:
                raise CredentialExistsError(clean_name)
            material = self._key(document, create=True)
            now = _now()
            entries[clean_name] = {
                "name": clean_name,
                "provider": clean_provider,
                "createdAt": existing["createdAt"] if existing else now,
                "updatedAt": now,
                "lastTest": None,
                "value": _encrypt(material.key, clean_name, clean_value),
            }
            document.update(version=FILE_VERSION, keyId=material.key_id, credentials=list(entries.values()))
            self._write(document)
        add_known_secrets([clean_value])
        return _info(entries[clean_name])

    def delete(self, name: Any) -> dict[str, Any]:
        clean_name = validate_name(name)
        with _CHANGING:
            document = self._read()
            entries = self._entries(document)
            if entries.pop(clean_name, None) is None:
                raise CredentialNotFoundError(clean_name)
            document["credentials"] = list(entries.values())
            self._write(document)
        return {"deleted": True, "name": clean_name}

    def stored_value(self, name: str) -> str | None:
        """The decrypted value of a stored credential, ``None`` when none has this name."""
        document = self._read()
        entry = self._entries(document).get(name)
        if entry is None:
            return None
        material = self._key(document, create=False)
        value = _decrypt(material, name, str(entry.get("value", "")))
        add_known_secrets([value])
        return value

    def lookup(self, name: Any, provider: str | None = None) -> ResolvedCredential:
        """The value for ``name``: stored, else ``NOODL_CREDENTIAL_<NAME>``, the name itself as a variable,
        or the provider's usual variable; :class:`CredentialNotFoundError` names every place tried."""
        clean_name = validate_name(name)
        stored = self.stored_value(clean_name)
        if stored is not None:
            return ResolvedCredential(clean_name, stored, "store")
        tried = [env_name_for(clean_name)]
        if _ENV_NAME.match(clean_name):
            tried.append(clean_name)
        tried.extend(PROVIDER_ENV.get(provider or clean_name.lower(), ()))
        for variable in dict.fromkeys(tried):
            value = os.environ.get(variable)
            if value:
                add_known_secrets([value])
                return ResolvedCredential(clean_name, value, f"env:{variable}")
        raise CredentialNotFoundError(clean_name, list(dict.fromkeys(tried)))

    def secret_values(self) -> Texts:
        """Every stored value, decrypted (deploy bundles check that none of them reaches a file)."""
        document = self._read()
        entries = self._entries(document)
        if not entries:
            return []
        material = self._key(document, create=False)
        return [_decrypt(material, name, str(entry.get("value", ""))) for name, entry in entries.items()]

    async def test(self, name: Any) -> dict[str, Any]:
        """Run the provider's check (``untested`` when it has none) and keep the outcome on the entry."""
        clean_name = validate_name(name)
        document = self._read()
        entry = self._entries(document).get(clean_name)
        if entry is None:
            raise CredentialNotFoundError(clean_name)
        provider = str(entry.get("provider", "generic"))
        check = checks.check_for(provider)
        if check is None:
            outcome = checks.CheckOutcome("untested", f"no check is registered for provider {provider}")
        else:
            value = await asyncio.to_thread(self.stored_value, clean_name) or ""
            try:
                outcome = await check(value)
            except Exception as exc:  # a failing check is its answer, never a crash of the channel
                outcome = checks.CheckOutcome("failed", f"{type(exc).__name__}: {exc}")
            # A check's message must not echo the value back.
            outcome = checks.CheckOutcome(outcome.status, redact_secrets(outcome.message.replace(value, "…")))
        result = {"status": outcome.status, "message": outcome.message, "testedAt": _now()}
        await asyncio.to_thread(self._keep_test_result, clean_name, result)
        return {"name": clean_name, "provider": provider, **result}

    def _keep_test_result(self, name: str, result: dict[str, Any]) -> None:
        with _CHANGING:
            fresh = self._read()  # the check may have taken a while: keep whatever changed meanwhile
            current = self._entries(fresh).get(name)
            if current is not None:
                current["lastTest"] = result
                self._write(fresh)


def remember_stored_values(data_dir: Path) -> int:
    """Register every stored value with the log and history redaction (a backend does this as it starts,
    so a value is hidden even before a node looks it up); never raises. Answers how many were found."""
    if not (data_dir / FILE_NAME).exists():
        return 0
    try:
        values = CredentialStore(data_dir).secret_values()
    except CredentialKeyError as exc:
        log.warning("credentials_not_readable", data_dir=str(data_dir), error=exc.message)
        return 0
    add_known_secrets(values)
    return len(values)


def _info(entry: dict[str, Any]) -> CredentialInfo:
    last = entry.get("lastTest")
    return CredentialInfo(
        name=str(entry["name"]),
        provider=str(entry.get("provider", "generic")),
        created_at=str(entry.get("createdAt", "")),
        updated_at=str(entry.get("updatedAt", "")),
        last_test=last if isinstance(last, dict) else None,
    )


def _load_cipher() -> AesGcm:
    from sidecar.credentials.cipher import AesGcm

    return AesGcm()


_AEAD: Lazy[AesGcm] = Lazy(_load_cipher)


def _encrypt(key: bytes, name: str, value: str) -> str:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    sealed = _AEAD.get().seal(key, nonce, value.encode("utf-8"), _aad(name))
    return _CIPHER_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def _decrypt(material: KeyMaterial, name: str, text: str) -> str:
    try:
        if not text.startswith(_CIPHER_PREFIX):
            raise ValueError("unknown format")
        raw = text[len(_CIPHER_PREFIX) :]
        blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        plain = _AEAD.get().open(material.key, blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], _aad(name))
        return plain.decode("utf-8")
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise CredentialKeyError(
            f"credential {name} cannot be decrypted with the key from {material.source} "
            f"({material.key_id}): the file was changed or the key is not the one it was made with",
            data={"name": name, "keyId": material.key_id},
        ) from exc
