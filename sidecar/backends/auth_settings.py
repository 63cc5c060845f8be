"""``/admin/auth``: sign-in providers and policy (``auth.json``). Client secrets are write-only: they live
in ``secrets.json`` (``auth`` namespace) and reads answer ``hasClientSecret``.

The settings are validated and stored faithfully; this backend does not serve the OAuth / OIDC sign-in
routes or magic links yet, which every read says in ``signInServed: false``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sidecar.backends.secret_names import SecretNamespace
from sidecar.backends.settings_file import SettingsFile
from sidecar.errors import InvalidParamsError, SettingNotFoundError

POLICY_KEYS = ("magicLink", "redirectAllowList", "linking")
KINDS = ("oidc", "oauth2")
_PROVIDER_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
PRESETS: dict[str, dict[str, Any]] = {
    "google": {
        "kind": "oidc",
        "displayName": "Google",
        "issuer": "https://accounts.google.com",
        "scopes": ["openid", "email", "profile"],
    },
    "github": {
        "kind": "oauth2",
        "displayName": "GitHub",
        "authorizationUrl": "https://github.com/login/oauth/authorize",
        "tokenUrl": "https://github.com/login/oauth/access_token",
        "userInfoUrl": "https://api.github.com/user",
        "scopes": ["read:user", "user:email"],
    },
    "oidc": {"kind": "oidc", "displayName": "OpenID Connect", "scopes": ["openid", "email", "profile"]},
}
_PROVIDER_KEYS = frozenset(
    {
        "kind",
        "displayName",
        "issuer",
        "authorizationUrl",
        "tokenUrl",
        "userInfoUrl",
        "clientId",
        "scopes",
        "enabled",
    }
)
DEFAULTS: dict[str, Any] = {
    "version": 1,
    "providers": [],
    "magicLink": {"enabled": False, "ttlMinutes": 15},
    "redirectAllowList": [],
    "linking": {"byVerifiedEmail": False},
}


class AuthSettings:
    def __init__(self, data_dir: Path, base_url: Callable[[], str]) -> None:
        self._file = SettingsFile(data_dir / "auth.json", DEFAULTS)
        self._secrets = SecretNamespace(data_dir, "auth")
        self._base_url = base_url

    def config(self) -> dict[str, Any]:
        config = self._file.read()
        config["providers"] = [self._shown(provider) for provider in config["providers"]]
        return {
            "config": config,
            "presets": PRESETS,
            "baseUrl": {"url": self._base_url(), "usedFallback": True},
            "magicLinkReady": False,
            "magicLinkNotReadyReason": "This backend does not send magic links yet.",
            "signInServed": False,
        }

    def put_policy(self, body: dict[str, Any]) -> dict[str, Any]:
        given = [key for key in body if key != "version"]
        if not given or any(key not in POLICY_KEYS for key in given):
            raise InvalidParamsError(
                f"Nothing to update. Send one or more of: {', '.join(POLICY_KEYS)}. Received: "
                f"{', '.join(given) or '(empty body)'}. Providers are edited one at a time via "
                "PUT /admin/auth/providers/:id."
            )
        config = self._file.read()
        for key in ("magicLink", "linking"):
            if key in body:
                if not isinstance(body[key], dict):
                    raise InvalidParamsError(f"{key}: must be an object")
                config[key] = {**config[key], **body[key]}
        if "redirectAllowList" in body:
            allow = body["redirectAllowList"]
            if not isinstance(allow, list) or not all(isinstance(url, str) for url in allow):
                raise InvalidParamsError("redirectAllowList: must be an array of URLs")
            config["redirectAllowList"] = allow
        if not isinstance(config["magicLink"].get("enabled"), bool):
            raise InvalidParamsError("magicLink.enabled: must be true or false")
        self._file.write(config)
        return self.config()

    def put_provider(self, provider_id: str, body: dict[str, Any]) -> dict[str, Any]:
        if not _PROVIDER_ID.match(provider_id):
            raise InvalidParamsError("a provider id is lower-case letters, digits, '_' or '-' (at most 64)")
        preset_name = body.get("preset")
        if preset_name is not None and preset_name not in PRESETS:
            raise InvalidParamsError(f'Unknown preset "{preset_name}". Known presets: {", ".join(PRESETS)}.')
        config = self._file.read()
        existing: dict[str, Any] = next((p for p in config["providers"] if p.get("id") == provider_id), {})
        preset = PRESETS.get(preset_name, {}) if isinstance(preset_name, str) else {}
        explicit = {key: value for key, value in body.items() if key in _PROVIDER_KEYS}
        provider = {"id": provider_id, "enabled": True, **existing, **preset, **explicit}
        problems = _provider_problems(provider)
        if problems:
            raise InvalidParamsError("Invalid provider: " + "; ".join(problems), data={"problems": problems})
        secret = body.get("clientSecret")
        if isinstance(secret, str) and secret:
            self._secrets.set(provider_id, secret)  # first: an enabled provider must not lack its secret
        config["providers"] = [*[p for p in config["providers"] if p.get("id") != provider_id], provider]
        self._file.write(config)
        shown = self._shown(provider)
        shown["ready"] = False
        shown["notReadyReason"] = "This backend does not serve sign-in routes yet."
        return {"success": True, "provider": shown}

    def delete_provider(self, provider_id: str) -> dict[str, Any]:
        config = self._file.read()
        kept = [p for p in config["providers"] if p.get("id") != provider_id]
        if len(kept) == len(config["providers"]):
            raise SettingNotFoundError(f'No auth provider "{provider_id}" is configured.')
        config["providers"] = kept
        self._file.write(config)
        self._secrets.delete(provider_id)
        return {"success": True, "provider": provider_id}

    def _shown(self, provider: dict[str, Any]) -> dict[str, Any]:
        provider_id = str(provider.get("id"))
        return {
            **provider,
            "hasClientSecret": self._secrets.has(provider_id),
            "callbackUrl": f"{self._base_url()}/auth/{provider_id}/callback",
        }


def _provider_problems(provider: dict[str, Any]) -> list[str]:
    problems = []
    if provider.get("kind") not in KINDS:
        problems.append(f"kind: must be one of {', '.join(KINDS)} (or send a preset)")
    if provider.get("kind") == "oidc" and not str(provider.get("issuer", "")).startswith("https://"):
        problems.append("issuer: an https:// issuer URL is required for an OIDC provider")
    if provider.get("kind") == "oauth2":
        for key in ("authorizationUrl", "tokenUrl"):
            if not str(provider.get(key, "")).startswith("https://"):
                problems.append(f"{key}: an https:// URL is required for an OAuth 2 provider")
    if not isinstance(provider.get("clientId", ""), str):
        problems.append("clientId: must be a string")
    if not isinstance(provider.get("enabled"), bool):
        problems.append("enabled: must be true or false")
    scopes = provider.get("scopes", [])
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        problems.append("scopes: must be an array of strings")
    return problems
