"""Write-only values in ``secrets.json`` (mode 0600): the cloud functions' secrets and the credentials
of the editor's settings (SMTP password, sign-in providers' client secrets).

Each owner keeps one top-level key of the file (``functions``, ``email``, ``auth``); every write re-reads
the file and replaces only that key, so the admin token and the webhook secrets beside it are never
touched. Names leave this module; values are read only by the code that uses them (a mailer, a Secret
node), never by a route, a log line, the execution history or a schema export.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from sidecar.errors import InvalidParamsError
from sidecar.jsonfile import read_json, write_json_atomic

SECRETS_FILE = "secrets.json"
SECRET_FILE_MODE = 0o600
FUNCTIONS_NAMESPACE = "functions"
ENV_PREFIX = "NODEGX_SECRET_"
MAX_SECRET_BYTES = 64 * 1024
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


class SecretNamespace:
    """One top-level key of ``secrets.json``: ``{name: value}``."""

    def __init__(self, data_dir: Path, namespace: str) -> None:
        self._path = data_dir / SECRETS_FILE
        self._namespace = namespace

    def names(self) -> list[str]:
        return sorted(self._entries())

    def has(self, name: str) -> bool:
        return name in self._entries()

    def value(self, name: str) -> str | None:
        return self._entries().get(name)

    def set(self, name: str, value: str) -> None:
        entries = self._entries()
        entries[name] = value
        self._write(entries)

    def delete(self, name: str) -> bool:
        entries = self._entries()
        existed = entries.pop(name, None) is not None
        if existed:
            self._write(entries)
        return existed

    def _document(self) -> dict[str, Any]:
        try:
            document = read_json(self._path)
        except (json.JSONDecodeError, UnicodeDecodeError):
            document = None
        return dict(document) if isinstance(document, dict) else {}

    def _entries(self) -> dict[str, str]:
        section = self._document().get(self._namespace)
        if not isinstance(section, dict):
            return {}
        return {key: value for key, value in section.items() if isinstance(value, str)}

    def _write(self, entries: dict[str, str]) -> None:
        document = self._document()
        document[self._namespace] = dict(sorted(entries.items()))
        write_json_atomic(self._path, document, mode=SECRET_FILE_MODE)


def env_name(name: str) -> str:
    """The environment variable a function secret falls back to: ``NODEGX_SECRET_<NAME>``."""
    return ENV_PREFIX + re.sub(r"[^A-Z0-9]", "_", name.upper())


class FunctionSecrets:
    """``/admin/secrets``: the names provisioned for cloud functions; values only go in."""

    def __init__(self, data_dir: Path) -> None:
        self._store = SecretNamespace(data_dir, FUNCTIONS_NAMESPACE)

    def listing(self) -> dict[str, Any]:
        rows = [
            {"name": name, "envName": env_name(name), "alsoInEnvironment": env_name(name) in os.environ}
            for name in self._store.names()
        ]
        environment = sorted(key for key in os.environ if key.startswith(ENV_PREFIX))
        return {
            "namespace": FUNCTIONS_NAMESPACE,
            "secrets": rows,
            "environment": environment,
            "readable": False,
            "envPrefix": ENV_PREFIX,
        }

    def put(self, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        check_name(name)
        extra = sorted(key for key in body if key != "value")
        if extra:
            raise InvalidParamsError(f'unknown field(s) {", ".join(extra)}: send {{"value": "<the secret>"}}')
        value = body.get("value")
        if not isinstance(value, str) or not value:
            raise InvalidParamsError("a secret needs a non-empty string `value` (to remove one, use DELETE)")
        size = len(value.encode("utf-8"))
        if size > MAX_SECRET_BYTES:
            raise InvalidParamsError(f"the secret is {size} bytes; the limit is {MAX_SECRET_BYTES}")
        created = not self._store.has(name)
        self._store.set(name, value)
        answer = {"success": True, "name": name, "created": created, "namespace": FUNCTIONS_NAMESPACE}
        return (201 if created else 200), answer

    def delete(self, name: str) -> dict[str, Any]:
        check_name(name)
        existed = self._store.delete(name)
        return {
            "success": True,
            "name": name,
            "existed": existed,
            "stillResolvesFromEnvironment": env_name(name) in os.environ,
            "envName": env_name(name),
        }

    def value(self, name: str) -> str | None:
        """For the code that uses a secret (a Secret node): the stored value, else the environment's."""
        return self._store.value(name) or os.environ.get(env_name(name))


def check_name(name: str) -> None:
    # The rule, never the rejected name: unusable input is exactly the input not to echo.
    if not NAME_PATTERN.match(name):
        raise InvalidParamsError(
            'not a usable secret name: use letters, digits, "_", "." or "-", 1-128 characters'
        )
