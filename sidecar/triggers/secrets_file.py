"""Webhook secrets in ``secrets.json`` (mode 0600), under ``webhooks`` keyed by trigger id.

Other keys of the file (``adminToken``, auth provider secrets) belong to other parts of the backend: every
write re-reads the file and changes only the webhook namespace.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

from sidecar.errors import TriggerFileError
from sidecar.jsonfile import read_json, write_json_atomic

WEBHOOK_NAMESPACE = "webhooks"
SECRET_FILE_MODE = 0o600


def mint_webhook_secret() -> str:
    return "whsec_" + base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("=")


class FileSecretStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        try:
            document = read_json(path)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise TriggerFileError(str(path), [f"not valid JSON: {error}"]) from error
        self._cache: dict[str, str] = dict(self._namespace(document))

    def webhook_secret(self, trigger_id: str) -> str | None:
        return self._cache.get(trigger_id)

    def set_webhook_secret(self, trigger_id: str, secret: str) -> None:
        self._cache[trigger_id] = secret
        self._write()

    def delete_webhook_secret(self, trigger_id: str) -> None:
        if self._cache.pop(trigger_id, None) is not None:
            self._write()

    def _write(self) -> None:
        document = read_json(self._path)
        document = dict(document) if isinstance(document, dict) else {}
        document[WEBHOOK_NAMESPACE] = dict(sorted(self._cache.items()))
        write_json_atomic(self._path, document, mode=SECRET_FILE_MODE)

    @staticmethod
    def _namespace(document: Any) -> dict[str, str]:
        if not isinstance(document, dict):
            return {}
        hooks = document.get(WEBHOOK_NAMESPACE)
        if not isinstance(hooks, dict):
            return {}
        return {key: value for key, value in hooks.items() if isinstance(value, str)}
