"""The deploy bundle of one backend: every file it is made of, a manifest, one content hash.

Layout (paths inside the bundle)::

    manifest.json                  {format, formatVersion, sidecarVersion, createdAt, backend, files,
                                    bundleHash}
    backend.json                   {id, name}
    workflows/<name>.workflow.json the deployed exports, byte for byte
    schema.json                    {classes: [...]} from the records store, by class name
    triggers.json                  {version, maxChangeDepth, triggers} without run-time status
    security.json                  the permissions policy (only when the backend has one)
    config/params.json             /config parameters, master-key-only ones left out
    config/master-key-only.json    {name: true|false}: which parameters only the master key reads
    environment.json               {variables: [{name, purpose, required, secret}]}: what the target sets
    alerts.json                    {alerts: []}: slot for alert rules (none exist yet)
    python/requirements.txt        slot for Python workflow packages (none exist yet)

Everything but the manifest is content: JSON is written canonically (sorted keys, two-space indent), so
the same content gives the same bytes and the same ``bundleHash`` (SHA-256 over ``path NUL sha256 LF``
lines in path order); ``createdAt`` and the sidecar version live in the manifest only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sidecar import __version__
from sidecar.backends.workflows import SUFFIX as WORKFLOW_SUFFIX
from sidecar.credentials import CredentialStore, env_name_for
from sidecar.deploy.leaks import collect_secrets, find_leaks
from sidecar.errors import BundleLeakError, DeployError, SidecarError
from sidecar.jsonfile import read_json

FORMAT = "noodl-deploy-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ADMIN_TOKEN_ENV = "NOODL_ADMIN_TOKEN"
CONFIG_ENV_PREFIX = "NOODL_CONFIG_"
WEBHOOK_ENV_PREFIX = "NOODL_WEBHOOK_SECRET_"
REQUIREMENTS_SLOT = "# Python packages of this backend's Python workflows, one per line (none yet).\n"


def canonical_json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def bundle_hash(file_hashes: Mapping[str, str]) -> str:
    lines = "".join(f"{path}\0{file_hashes[path]}\n" for path in sorted(file_hashes))
    return sha256(lines.encode())


def env_key(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", text.upper())


@dataclass(frozen=True)
class Bundle:
    files: Mapping[str, bytes]
    manifest: Mapping[str, Any]

    @property
    def hash(self) -> str:
        return str(self.manifest["bundleHash"])

    def write(self, out_dir: Path) -> Path:
        """Write the bundle into ``out_dir`` (made if missing; it must hold nothing else)."""
        if out_dir.exists() and any(out_dir.iterdir()):
            raise DeployError(f"{out_dir} is not empty: a bundle is written into an empty folder")
        for path, data in {**self.files, MANIFEST: canonical_json(self.manifest)}.items():
            target = out_dir / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            os.chmod(target, 0o644)  # no secret is ever in a bundle; the image copies it as is
        return out_dir


async def collect_bundle(
    data_dir: Path, *, store: Any = None, backend_id: str | None = None, backend_name: str | None = None
) -> Bundle:
    """The bundle of the backend in ``data_dir``; ``store`` is its open records store when it runs
    (otherwise its SQLite file is opened read-only for the schema). Refuses with :class:`BundleLeakError`
    when a secret value appears in any file."""
    config = read_json(data_dir / "config.json") or {}
    identity = {
        "id": backend_id or str(config.get("id") or data_dir.name),
        "name": backend_name or str(config.get("name") or data_dir.name),
    }
    params, flags = _config_params(data_dir)
    master_only = {name: params[name] for name, only in flags.items() if only and name in params}
    files: dict[str, bytes] = {"backend.json": canonical_json(identity)}
    files |= _workflows(data_dir)
    files["schema.json"] = canonical_json({"classes": await _schema(data_dir, store)})
    files["triggers.json"] = canonical_json(_triggers(data_dir))
    security = _read(data_dir / "security.json")
    if security is not None:
        files["security.json"] = canonical_json(security)
    files["config/params.json"] = canonical_json(
        {name: value for name, value in params.items() if name not in master_only}
    )
    files["config/master-key-only.json"] = canonical_json(flags)
    files["environment.json"] = canonical_json({"variables": _environment(data_dir, master_only)})
    files["alerts.json"] = canonical_json({"alerts": []})
    files["python/requirements.txt"] = REQUIREMENTS_SLOT.encode()

    leaks = find_leaks(files, collect_secrets(data_dir, master_only))
    if leaks:
        raise BundleLeakError(leaks)
    hashes = {path: sha256(data) for path, data in sorted(files.items())}
    manifest = {
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "sidecarVersion": __version__,
        "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "backend": identity,
        "files": hashes,
        "bundleHash": bundle_hash(hashes),
    }
    return Bundle(files, manifest)


def read_bundle(folder: Path) -> Bundle:
    """A written bundle, every file checked against the manifest (a changed or missing file refuses)."""
    manifest = _read(folder / MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DeployError(f"{folder} holds no deploy bundle ({MANIFEST} missing or not a bundle manifest)")
    hashes = manifest.get("files")
    if not isinstance(hashes, dict) or bundle_hash(hashes) != manifest.get("bundleHash"):
        raise DeployError(f"{folder / MANIFEST}: bundleHash does not match its file list")
    files: dict[str, bytes] = {}
    for path, expected in hashes.items():
        try:
            data = (folder / path).read_bytes()
        except OSError as exc:
            raise DeployError(f"bundle file {path} cannot be read: {exc}") from exc
        if sha256(data) != expected:
            raise DeployError(f"bundle file {path} was changed after the bundle was made (hash mismatch)")
        files[path] = data
    return Bundle(files, manifest)


def _read(path: Path) -> Any:
    try:
        return read_json(path)
    except ValueError as exc:
        raise DeployError(f"{path} is not valid JSON: {exc}") from exc


def _config_params(data_dir: Path) -> tuple[dict[str, Any], dict[str, bool]]:
    path = data_dir / "config-params.json"
    params = _read(path) or {}
    flags = _read(path.with_name(path.stem + ".master-key-only.json")) or {}
    if not isinstance(params, dict) or not isinstance(flags, dict):
        raise DeployError("config-params.json and its master-key-only flags must be JSON objects")
    return params, {str(name): value is True for name, value in flags.items()}


def _workflows(data_dir: Path) -> dict[str, bytes]:
    folder = data_dir / "workflows"
    if not folder.is_dir():
        return {}
    return {
        f"workflows/{path.name}": path.read_bytes()
        for path in sorted(folder.iterdir())
        if path.is_file() and path.name.endswith(WORKFLOW_SUFFIX) and not path.name.startswith(".")
    }


def _triggers(data_dir: Path) -> dict[str, Any]:
    document = _read(data_dir / "triggers.json") or {}
    if not isinstance(document, dict):
        raise DeployError("triggers.json must be a JSON object")
    triggers = [
        {key: value for key, value in trigger.items() if key != "status"}
        for trigger in document.get("triggers", [])
        if isinstance(trigger, dict)
    ]
    result: dict[str, Any] = {"version": document.get("version", 1), "triggers": triggers}
    if document.get("maxChangeDepth") is not None:
        result["maxChangeDepth"] = document["maxChangeDepth"]
    return result


async def _schema(data_dir: Path, store: Any) -> list[dict[str, Any]]:
    if store is not None:
        return _sorted_classes(await store.list_schemas())
    database = data_dir / "data" / "local.db"
    if not database.exists():
        return []
    from sidecar.store import SqliteRecordStore

    try:
        opened = await SqliteRecordStore.open(database)
    except (SidecarError, OSError) as exc:
        raise DeployError(f"cannot read the schema from {database}: {exc}") from exc
    try:
        return _sorted_classes(await opened.list_schemas())
    finally:
        await opened.close()


def _sorted_classes(classes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(classes, key=lambda schema: str(schema.get("className")))


def _environment(data_dir: Path, master_only: Mapping[str, Any]) -> list[dict[str, Any]]:
    variables: list[dict[str, Any]] = [
        {"name": ADMIN_TOKEN_ENV, "purpose": "admin token (master key)", "required": True, "secret": True}
    ]
    seen = {ADMIN_TOKEN_ENV: "admin token"}

    def add(name: str, purpose: str, required: bool) -> None:
        if name in seen:
            raise DeployError(f"{purpose} and {seen[name]} would both be read from ${name}: rename one")
        seen[name] = purpose
        variables.append({"name": name, "purpose": purpose, "required": required, "secret": True})

    for info in CredentialStore(data_dir).list():
        add(env_name_for(info.name), f"credential {info.name} ({info.provider})", False)
    for name in sorted(master_only):
        add(CONFIG_ENV_PREFIX + env_key(name), f"master-key-only config parameter {name}", True)
    for trigger in _triggers(data_dir)["triggers"]:
        if trigger.get("type") == "webhook" and isinstance(trigger.get("id"), str):
            trigger_id = trigger["id"]
            add(WEBHOOK_ENV_PREFIX + env_key(trigger_id), f"webhook secret of trigger {trigger_id}", True)
    return variables
