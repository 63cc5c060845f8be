"""Where the key that encrypts a backend's credentials comes from, in this order:

1. ``$NOODL_CREDENTIALS_KEY``: the key itself (base64url of 32 bytes), for containers and CI;
2. ``$NOODL_CREDENTIALS_KEY_FILE``: a key file named explicitly;
3. the OS keyring, when the optional ``keyring`` package is installed and finds a working backend (a
   headless machine has none; any failure there falls through, never stops the store), unless
   ``$NOODL_CREDENTIALS_KEYRING`` is ``0``;
4. ``.noodl-credentials.key`` beside the data directory (its parent folder, e.g. ``$NOODL_HOME/backends``),
   mode 0600, made on first use.

So the key is never among the data directory's files: copying a backend's folder does not copy the means
to read its credentials. A key is identified by the first 16 hex digits of its SHA-256 (``keyId``), which
``credentials.json`` records, so a wrong key is reported as such instead of as garbage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from sidecar.errors import CredentialKeyError

log = structlog.get_logger("sidecar.credentials")

KEY_BYTES = 32
KEY_ENV = "NOODL_CREDENTIALS_KEY"
KEY_FILE_ENV = "NOODL_CREDENTIALS_KEY_FILE"
KEYRING_ENV = "NOODL_CREDENTIALS_KEYRING"
KEY_FILE_NAME = ".noodl-credentials.key"
KEYRING_SERVICE = "noodl-sidecar-credentials"


@dataclass(frozen=True)
class KeyMaterial:
    key: bytes
    source: str
    """Where the key came from, for messages: ``env:NOODL_CREDENTIALS_KEY``, ``keyring``, a file path."""

    @property
    def key_id(self) -> str:
        return key_id(self.key)


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise CredentialKeyError(f"the credentials key from {source} is not base64url text") from exc
    if len(key) != KEY_BYTES:
        raise CredentialKeyError(
            f"the credentials key from {source} is {len(key)} bytes, not {KEY_BYTES}", data={"source": source}
        )
    return key


def default_key_file(data_dir: Path) -> Path:
    return data_dir.resolve().parent / KEY_FILE_NAME


def load_key(data_dir: Path, *, create: bool) -> KeyMaterial | None:
    """The key for ``data_dir``'s credentials; a new one when none exists and ``create`` (else ``None``)."""
    from_env = os.environ.get(KEY_ENV, "").strip()
    if from_env:
        return KeyMaterial(decode_key(from_env, f"${KEY_ENV}"), f"${KEY_ENV}")
    named = os.environ.get(KEY_FILE_ENV, "").strip()
    if named:
        return _file_key(Path(named), create=create)
    key_file = default_key_file(data_dir)
    ring = _usable_keyring()
    if ring is not None:
        found = _keyring_key(ring, key_file.parent, create=create and not key_file.exists())
        if found is not None:
            return found
    return _file_key(key_file, create=create)


def _file_key(path: Path, *, create: bool) -> KeyMaterial | None:
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        if not create:
            return None
        return KeyMaterial(_write_key_file(path), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialKeyError(f"cannot read the credentials key file {path}: {exc}") from exc
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)  # the key is as secret as what it opens: owner-only, as ssh insists
        log.warning("credentials_key_file_tightened", path=str(path), mode=oct(mode))
    return KeyMaterial(decode_key(text, str(path)), str(path))


def _write_key_file(path: Path) -> bytes:
    key = secrets.token_bytes(KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:  # made meanwhile by another process: use that one
        return decode_key(path.read_text(encoding="ascii"), str(path))
    with os.fdopen(fd, "w", encoding="ascii") as stream:
        os.fchmod(fd, 0o600)  # exactly: open applied the umask
        stream.write(encode_key(key) + "\n")
        stream.flush()
        os.fsync(fd)
    log.info("credentials_key_created", path=str(path))
    return key


def _usable_keyring() -> Any:
    """The ``keyring`` module when it is installed, allowed and backed by a real store; else ``None``."""
    if os.environ.get(KEYRING_ENV, "").strip() == "0":
        return None
    try:
        import keyring  # type: ignore[import-not-found]  # optional: never a dependency of the sidecar
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
        priority = float(getattr(backend, "priority", 0))
    except Exception:  # a broken keyring installation must not stop the store
        return None
    return keyring if priority > 0 else None


def _keyring_key(ring: Any, folder: Path, *, create: bool) -> KeyMaterial | None:
    account = str(folder)
    try:
        text = ring.get_password(KEYRING_SERVICE, account)
        if text:
            return KeyMaterial(decode_key(text, "the OS keyring"), "the OS keyring")
        if not create:
            return None
        key = secrets.token_bytes(KEY_BYTES)
        ring.set_password(KEYRING_SERVICE, account, encode_key(key))
        return KeyMaterial(key, "the OS keyring")
    except CredentialKeyError:
        raise
    except Exception as exc:  # locked, no D-Bus session, denied: the key file serves instead
        log.warning("credentials_keyring_unavailable", error=f"{type(exc).__name__}: {exc}")
        return None
