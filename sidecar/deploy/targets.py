"""Deploy targets of one backend: where each deploys (provider, app, region, API and registry addresses,
the credential holding the provider's token), its plain env vars, and its secrets.

Kept in ``<data>/deploy/targets.json``. Secret *values* are write-only: they go to
``<data>/deploy/secrets-<target>.json``, encrypted with the backend's credentials key (the same AES-GCM
store as credentials, so never in a list, a log, a bundle or a release), and are read back only to be
sent to the provider. :func:`plan` compares what the target should hold with what the provider holds and
answers the diff (values of env vars, names only of secrets) before anything is applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sidecar.credentials import CredentialStore
from sidecar.deploy.providers.base import TargetSpec
from sidecar.errors import DeployError
from sidecar.jsonfile import read_json, write_json_atomic

TARGETS_FILE = Path("deploy") / "targets.json"
_TARGET = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_VARIABLE = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
PROVIDERS = ("fly", "railway", "render")


def validate_target(name: Any) -> str:
    if not isinstance(name, str) or not _TARGET.match(name):
        raise DeployError("target: 1 to 32 lower-case letters, digits or '-', a letter first")
    return name


def validate_variable(name: Any) -> str:
    if not isinstance(name, str) or not _VARIABLE.match(name):
        raise DeployError(f"variable {name!r}: upper-case letters, digits and '_', not a digit first")
    return name


class TargetSecrets(CredentialStore):
    """One target's secret values, encrypted like credentials but in a file of their own."""

    def __init__(self, data_dir: Path, target: str) -> None:
        super().__init__(data_dir)
        self.path = data_dir / "deploy" / f"secrets-{validate_target(target)}.json"

    def names(self) -> list[str]:
        return sorted(info.name for info in self.list())

    def values(self) -> dict[str, str]:
        return {name: self.stored_value(name) or "" for name in self.names()}


@dataclass
class Target:
    spec: TargetSpec
    env: dict[str, str] = field(default_factory=dict)
    pending_secrets: list[str] = field(default_factory=list)
    unset: list[str] = field(default_factory=list)
    domains: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "provider": spec.provider,
            "app": spec.app,
            "region": spec.region,
            "apiBase": spec.api_base,
            "registry": spec.registry,
            "publicUrl": spec.public_url,
            "tokenCredential": spec.token_credential,
            "options": dict(spec.options),
            "env": dict(sorted(self.env.items())),
            "pendingSecrets": sorted(self.pending_secrets),
            "unset": sorted(self.unset),
            "domains": [dict(domain) for domain in self.domains],
        }


class TargetStore:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / TARGETS_FILE

    def _read(self) -> dict[str, Any]:
        try:
            document = read_json(self.path) or {}
        except ValueError as exc:
            raise DeployError(f"{self.path} is not valid JSON: {exc}") from exc
        targets = document.get("targets") if isinstance(document, dict) else None
        return dict(targets) if isinstance(targets, dict) else {}

    def _write(self, targets: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, {"version": 1, "targets": targets})

    def list(self) -> dict[str, dict[str, Any]]:
        return self._read()

    def get(self, name: str) -> Target | None:
        entry = self._read().get(validate_target(name))
        if not isinstance(entry, dict):
            return None
        spec = TargetSpec(
            name=name,
            provider=str(entry.get("provider")),
            app=str(entry.get("app")),
            region=str(entry.get("region") or ""),
            api_base=str(entry.get("apiBase") or ""),
            registry=str(entry.get("registry") or ""),
            public_url=str(entry.get("publicUrl") or ""),
            token_credential=str(entry.get("tokenCredential") or ""),
            options=dict(entry.get("options") or {}),
        )
        return Target(
            spec,
            env=dict(entry.get("env") or {}),
            pending_secrets=list(entry.get("pendingSecrets") or []),
            unset=list(entry.get("unset") or []),
            domains=[dict(item) for item in entry.get("domains") or [] if isinstance(item, dict)],
        )

    def require(self, name: str) -> Target:
        target = self.get(name)
        if target is None:
            raise DeployError(f"no deploy target {name!r}: configure it first (provider, app)")
        return target

    def save(self, target: Target) -> None:
        targets = self._read()
        targets[target.spec.name] = target.to_json()
        self._write(targets)

    def configure(self, name: str, provider: str, app: str, **settings: Any) -> Target:
        if provider not in PROVIDERS:
            raise DeployError(f"provider: one of {', '.join(PROVIDERS)}")
        if not isinstance(app, str) or not re.match(r"^[a-z0-9][a-z0-9-]{0,62}$", app):
            raise DeployError("app: lower-case letters, digits and '-' (as the providers name apps)")
        existing = self.get(name)
        spec = TargetSpec(
            name=validate_target(name),
            provider=provider,
            app=app,
            region=str(settings.get("region") or ""),
            api_base=str(settings.get("api_base") or ""),
            registry=str(settings.get("registry") or ""),
            public_url=str(settings.get("public_url") or ""),
            token_credential=str(settings.get("token_credential") or provider),
            options=dict(settings.get("options") or {}),
        )
        target = (
            Target(spec)
            if existing is None
            else Target(spec, existing.env, existing.pending_secrets, existing.unset, existing.domains)
        )
        self.save(target)
        return target

    # ---- env vars and secrets (applied with the next deploy, or by apply_environment) -------------

    def set_env(self, name: str, values: dict[str, str | None]) -> Target:
        target = self.require(name)
        for variable, value in values.items():
            validate_variable(variable)
            if value is None:
                target.env.pop(variable, None)
            else:
                target.env[variable] = str(value)
        self.save(target)
        return target

    def set_secret(self, name: str, variable: str, value: str | None) -> Target:
        target = self.require(name)
        secrets = TargetSecrets(self.data_dir, name)
        validate_variable(variable)
        if value is None:
            if variable in secrets.names():
                secrets.delete(variable)
            target.unset = sorted({*target.unset, variable})
            target.pending_secrets = [item for item in target.pending_secrets if item != variable]
        else:
            secrets.create(variable, value, "deploy-secret", replace=True)
            target.pending_secrets = sorted({*target.pending_secrets, variable})
            target.unset = [item for item in target.unset if item != variable]
        self.save(target)
        return target


def validate_hostname(hostname: Any) -> str:
    pattern = r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
    if not isinstance(hostname, str) or not re.match(pattern, hostname.lower()):
        raise DeployError(f"hostname {hostname!r} is not a domain name (like api.example.com)")
    return hostname.lower()


def plan(target: Target, secret_names: list[str], held_env: dict[str, str], held: set[str]) -> dict[str, Any]:
    """What applying would change: env vars with old and new values, secrets by name only."""
    env_changes = []
    secret_like = set(secret_names) | set(target.unset)  # providers that list secrets with the env
    for variable in sorted((set(target.env) | set(held_env)) - secret_like):
        old, new = held_env.get(variable), target.env.get(variable)
        if old != new:
            action = "add" if old is None else "remove" if new is None else "change"
            env_changes.append({"name": variable, "action": action, "from": old, "to": new})
    secret_changes = []
    for variable in sorted(set(secret_names) | set(target.unset)):
        if variable in target.unset:
            if variable in held:
                secret_changes.append({"name": variable, "action": "remove"})
        elif variable not in held:
            secret_changes.append({"name": variable, "action": "add"})
        elif variable in target.pending_secrets:
            secret_changes.append({"name": variable, "action": "change"})
    return {"target": target.spec.name, "env": env_changes, "secrets": secret_changes}
