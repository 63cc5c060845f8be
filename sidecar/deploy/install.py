"""Installing a bundle into a data directory, as a deployed backend does at every start.

The bundle owns the backend's definition; the data directory keeps the data. So each start replaces the
workflows, triggers, security rules and config parameters with the bundle's, adds the classes and fields
of its schema that the database lacks (never drops any), and takes the secrets from the environment
(``environment.json`` lists them): master-key-only parameters into ``config-params.json``, webhook secrets
into ``secrets.json`` (0600). The admin token is handed to ``serve`` by the entry point; credentials are
read from ``NOODL_CREDENTIAL_<NAME>`` by the credential store when a node looks one up. Last, the
manifest is copied to ``deploy/installed.json``, which ``/health`` reports (``sidecar.deploy.installed``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from sidecar.deploy.bundle import (
    CONFIG_ENV_PREFIX,
    WEBHOOK_ENV_PREFIX,
    Bundle,
    env_key,
)
from sidecar.deploy.installed import INSTALLED
from sidecar.errors import DeployError
from sidecar.jsonfile import read_json, write_json_atomic
from sidecar.private_files import private_dir

log = structlog.get_logger("sidecar.deploy")


def missing_variables(bundle: Bundle, env: Mapping[str, str]) -> list[str]:
    variables = json.loads(bundle.files["environment.json"])["variables"]
    return [item["name"] for item in variables if item.get("required") and not env.get(item["name"])]


async def install_bundle(bundle: Bundle, data_dir: Path, env: Mapping[str, str]) -> None:
    missing = missing_variables(bundle, env)
    if missing:
        raise DeployError(
            "the deployed backend needs these environment variables: " + ", ".join(missing),
            data={"missing": missing},
        )
    private_dir(data_dir)
    for sub in ("data", "workflows", "files", "deploy"):
        private_dir(data_dir / sub)
    _install_workflows(bundle, data_dir / "workflows")
    write_json_atomic(data_dir / "triggers.json", json.loads(bundle.files["triggers.json"]))
    if "security.json" in bundle.files:
        write_json_atomic(data_dir / "security.json", json.loads(bundle.files["security.json"]))
    else:
        (data_dir / "security.json").unlink(missing_ok=True)
    _install_config(bundle, data_dir, env)
    _install_webhook_secrets(bundle, data_dir, env)
    await _install_schema(json.loads(bundle.files["schema.json"])["classes"], data_dir)
    installed = {**bundle.manifest, "installedAt": _now()}
    write_json_atomic(data_dir / INSTALLED, installed)
    log.info("bundle_installed", bundle_hash=bundle.hash, data_dir=str(data_dir))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _install_workflows(bundle: Bundle, folder: Path) -> None:
    wanted = {path.removeprefix("workflows/"): data for path, data in bundle.files.items()
              if path.startswith("workflows/")}  # fmt: skip
    for existing in folder.iterdir():
        if existing.is_file() and existing.name not in wanted:
            existing.unlink()
        elif existing.is_dir() and existing.name == ".versions":
            shutil.rmtree(existing)  # the image is the version: a container keeps no other deploys
    for name, data in wanted.items():
        write_json_atomic(folder / name, json.loads(data))


def _install_config(bundle: Bundle, data_dir: Path, env: Mapping[str, str]) -> None:
    params = json.loads(bundle.files["config/params.json"])
    flags: dict[str, bool] = json.loads(bundle.files["config/master-key-only.json"])
    for name, only in flags.items():
        if only:
            raw = env[CONFIG_ENV_PREFIX + env_key(name)]
            try:
                params[name] = json.loads(raw)  # a number, object or quoted string given as JSON
            except ValueError:
                params[name] = raw  # plain text is a string
    write_json_atomic(data_dir / "config-params.json", params, mode=0o600)
    write_json_atomic(data_dir / "config-params.master-key-only.json", flags)


def _install_webhook_secrets(bundle: Bundle, data_dir: Path, env: Mapping[str, str]) -> None:
    triggers = json.loads(bundle.files["triggers.json"])["triggers"]
    path = data_dir / "secrets.json"
    current = read_json(path) if path.exists() else {}
    document = dict(current) if isinstance(current, dict) else {}
    document["webhooks"] = {
        trigger["id"]: env[WEBHOOK_ENV_PREFIX + env_key(trigger["id"])]
        for trigger in triggers
        if trigger.get("type") == "webhook" and isinstance(trigger.get("id"), str)
    }
    write_json_atomic(path, document, mode=0o600)


async def _install_schema(classes: list[dict[str, Any]], data_dir: Path) -> None:
    from sidecar.store import SqliteRecordStore

    store = await SqliteRecordStore.open(data_dir / "data" / "local.db")
    try:
        existing = {str(schema["className"]): schema for schema in await store.list_schemas()}
        for wanted in classes:
            name = str(wanted["className"])
            clp = wanted.get("classLevelPermissions")
            if name not in existing:
                existing[name] = await store.create_class(name, {"classLevelPermissions": clp or {}})
            have = existing[name]
            fields = {key: spec for key, spec in (wanted.get("fields") or {}).items()
                      if key not in have.get("fields", {})}  # fmt: skip
            indexes = {key: spec for key, spec in (wanted.get("indexes") or {}).items()
                       if key not in (have.get("indexes") or {})}  # fmt: skip
            change: dict[str, Any] = {"fields": fields, "indexes": indexes}
            if isinstance(clp, dict):
                change["classLevelPermissions"] = clp
            await store.update_class(name, change)
    finally:
        await store.close()
