"""The secret values a bundle must never contain, and the search for them in its files.

Collected from the data directory: every string in ``secrets.json`` (admin token, webhook secrets, any
other namespace), the decrypted credential values (when the credentials key is at hand), the secret
values of every deploy target, and the values of master-key-only config parameters. Values shorter
than :data:`MIN_CHARS` are not searched for (``"1"`` would match everywhere). Each is searched as UTF-8
and as it is escaped inside a JSON string.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from sidecar.credentials import CredentialStore
from sidecar.deploy.targets import TargetSecrets
from sidecar.errors import CredentialKeyError, SidecarError
from sidecar.jsonfile import read_json

log = structlog.get_logger("sidecar.deploy")

MIN_CHARS = 8


@dataclass(frozen=True)
class Secret:
    kind: str
    value: str


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def collect_secrets(data_dir: Path, master_only_values: Mapping[str, Any]) -> list[Secret]:
    found: list[Secret] = []
    try:
        secrets_file = read_json(data_dir / "secrets.json")
    except ValueError:
        secrets_file = None
    found += [Secret("secrets.json", text) for text in _strings(secrets_file)]
    try:
        found += [Secret("credential", text) for text in CredentialStore(data_dir).secret_values()]
    except CredentialKeyError as exc:  # without the key the values cannot be searched for; say so
        log.warning("bundle_credentials_not_checked", error=exc.message)
    for path in sorted((data_dir / "deploy").glob("secrets-*.json")):
        target = path.stem.removeprefix("secrets-")
        try:
            found += [
                Secret(f"secret of deploy target {target}", text)
                for text in TargetSecrets(data_dir, target).secret_values()
            ]
        except (CredentialKeyError, SidecarError) as exc:
            log.warning("bundle_target_secrets_not_checked", target=target, error=exc.message)
    for name, value in master_only_values.items():
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        found.append(Secret(f"master-key-only config parameter {name}", text))
    return [secret for secret in found if len(secret.value) >= MIN_CHARS]


def find_leaks(files: Mapping[str, bytes], secrets: list[Secret]) -> list[dict[str, str]]:
    """``[{file, kind}]`` for every file holding a secret value (the values themselves are not named)."""
    needles = []
    for secret in secrets:
        forms = {secret.value.encode(), json.dumps(secret.value, ensure_ascii=False)[1:-1].encode()}
        forms.add(json.dumps(secret.value)[1:-1].encode())
        needles.append((secret.kind, forms))
    leaks = []
    for path, data in sorted(files.items()):
        for kind in dict.fromkeys(kind for kind, forms in needles if any(form in data for form in forms)):
            leaks.append({"file": path, "kind": kind})
    return leaks
