"""``security.json``: the backend's permissions policy, validated strictly and written atomically.

The file (docs/security.md) is the editor's whole security panel in one object::

    {
      "version": 1,
      "devOpen": false,
      "collections": {"Todo": {"find": {"*": true}, "create": {"requiresAuthentication": true},
                               "protectedFields": {"*": ["secret"]}}},
      "functions": {"hello": {"call": "authenticated", "timeoutMs": 5000}}
    }

- ``collections`` holds Parse class-level permissions, applied to the store's
  schema; an operation left out keeps Parse's default (open to everyone);
- ``functions.<name>.call`` is ``public``, ``authenticated``, ``admin`` or ``role:<name>``; without a
  rule the Request node decides. ``timeoutMs`` (0 = no limit) replaces the 30 s
  default;
- ``devOpen`` opens every function to every caller (loopback only): a local convenience while building.

A file that is absent is the empty policy; one that cannot be parsed refuses the backend's start.
Every problem names the key at fault, so the editor can point at it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sidecar.errors import InvalidSecurityPolicyError, SecurityFileError
from sidecar.jsonfile import write_json_atomic

FILE_NAME = "security.json"
VERSION = 1
OPERATIONS = ("find", "get", "count", "create", "update", "delete", "addField")
"""Parse's class-level operations, as the store enforces them (``sidecar.store.schema``)."""
PROTECTED_FIELDS = "protectedFields"
CALL_RULES = ("public", "authenticated", "admin")
MAX_TIMEOUT_MS = 24 * 3600 * 1000

_ROLE = re.compile(r"^role:[A-Za-z0-9_\- ]+$")
_USER_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_COLLECTION = re.compile(r"^(_User|_Role|_Session|_Installation|[A-Za-z][A-Za-z0-9_]*)$")
_FUNCTION = re.compile(r"^[^/\s]{1,128}$")
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_TOP_KEYS = frozenset({"version", "devOpen", "collections", "functions"})
_FUNCTION_KEYS = frozenset({"call", "timeoutMs"})

CollectionRules = dict[str, Any]
"""One collection's class-level permissions in Parse's wire shape."""


@dataclass(frozen=True)
class FunctionRule:
    call: str | None = None
    timeout_ms: int | None = None

    def to_json(self) -> dict[str, Any]:
        rule: dict[str, Any] = {}
        if self.call is not None:
            rule["call"] = self.call
        if self.timeout_ms is not None:
            rule["timeoutMs"] = self.timeout_ms
        return rule


@dataclass(frozen=True)
class SecurityPolicy:
    dev_open: bool = False
    collections: Mapping[str, CollectionRules] = field(default_factory=dict)
    functions: Mapping[str, FunctionRule] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "devOpen": self.dev_open,
            "collections": {name: dict(rules) for name, rules in self.collections.items()},
            "functions": {name: rule.to_json() for name, rule in self.functions.items()},
        }

    def function_rule(self, name: str) -> FunctionRule:
        return self.functions.get(name, FunctionRule())


# ---- validation -------------------------------------------------------------------------------


def parse_policy(raw: Any) -> SecurityPolicy:
    """A whole policy from its JSON; raises ``InvalidSecurityPolicyError`` listing every problem."""
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        raise InvalidSecurityPolicyError(["the policy must be an object"])
    problems += [f"unknown key {key!r}" for key in raw if key not in _TOP_KEYS]
    if raw.get("version", VERSION) != VERSION:
        problems.append(f"version: must be {VERSION}")
    dev_open = raw.get("devOpen", False)
    if not isinstance(dev_open, bool):
        problems.append("devOpen: must be a boolean")
    collections = _parse_map(raw.get("collections", {}), "collections", _parse_collection, problems)
    functions = _parse_map(raw.get("functions", {}), "functions", _parse_function, problems)
    if problems:
        raise InvalidSecurityPolicyError(problems)
    return SecurityPolicy(dev_open is True, collections, functions)


def parse_collection_rules(name: Any, rules: Any) -> tuple[str, CollectionRules]:
    """One collection's name and rules (``setCollectionPermissions``), validated as in a policy."""
    problems: list[str] = []
    if not isinstance(name, str) or not _COLLECTION.match(name):
        problems.append(f"collections: invalid collection name {name!r}")
    parsed = _parse_collection(f"collections.{name}", rules, problems)
    if problems:
        raise InvalidSecurityPolicyError(problems)
    return str(name), parsed


def _parse_map(raw: Any, where: str, parse: Any, problems: list[str]) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be an object")
        return {}
    pattern = _COLLECTION if where == "collections" else _FUNCTION
    parsed: dict[str, Any] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not pattern.match(name):
            problems.append(f"{where}: invalid name {name!r}")
            continue
        parsed[name] = parse(f"{where}.{name}", value, problems)
    return parsed


def _parse_collection(where: str, rules: Any, problems: list[str]) -> CollectionRules:
    if not isinstance(rules, Mapping):
        problems.append(f"{where}: must be an object of operation rules")
        return {}
    clean: CollectionRules = {}
    for operation, rule in rules.items():
        if operation == PROTECTED_FIELDS:
            clean[operation] = _parse_protected(f"{where}.{operation}", rule, problems)
        elif operation in OPERATIONS:
            clean[operation] = _parse_operation(f"{where}.{operation}", rule, problems)
        else:
            problems.append(f"{where}: unknown operation {operation!r} (use {', '.join(OPERATIONS)})")
    return clean


def _parse_operation(where: str, rule: Any, problems: list[str]) -> dict[str, bool]:
    """``{"*": true}``, ``{"role:staff": true, "<userId>": true}``, ``{"requiresAuthentication": true}``;
    ``{}`` = master only."""
    if not isinstance(rule, Mapping):
        problems.append(f"{where}: must be an object of principals")
        return {}
    for principal, allowed in rule.items():
        if not _is_principal(principal) and principal != "requiresAuthentication":
            problems.append(f"{where}: invalid principal {principal!r}")
        elif allowed is not True:
            problems.append(f"{where}.{principal}: must be true (leave a principal out to deny it)")
    return {str(key): True for key in rule}


def _parse_protected(where: str, rule: Any, problems: list[str]) -> dict[str, list[str]]:
    if not isinstance(rule, Mapping):
        problems.append(f"{where}: must be an object of principal → field names")
        return {}
    clean: dict[str, list[str]] = {}
    for principal, fields in rule.items():
        if not _is_principal(principal) and principal != "authenticated":
            problems.append(f"{where}: invalid principal {principal!r}")
        elif not isinstance(fields, list) or not all(
            isinstance(name, str) and _FIELD.match(name) for name in fields
        ):
            problems.append(f"{where}.{principal}: must be a list of field names")
        else:
            clean[principal] = list(fields)
    return clean


def _is_principal(key: Any) -> bool:
    return isinstance(key, str) and (key == "*" or bool(_ROLE.match(key)) or bool(_USER_ID.match(key)))


def _parse_function(where: str, raw: Any, problems: list[str]) -> FunctionRule:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be an object with call and/or timeoutMs")
        return FunctionRule()
    problems += [f"{where}: unknown key {key!r}" for key in raw if key not in _FUNCTION_KEYS]
    call = raw.get("call")
    if call is not None and not (call in CALL_RULES or (isinstance(call, str) and _ROLE.match(call))):
        problems.append(f"{where}.call: must be public, authenticated, admin or role:<name>")
    timeout = raw.get("timeoutMs")
    if timeout is not None and (
        not isinstance(timeout, int) or isinstance(timeout, bool) or not 0 <= timeout <= MAX_TIMEOUT_MS
    ):
        problems.append(f"{where}.timeoutMs: must be an integer from 0 (no limit) to {MAX_TIMEOUT_MS}")
    return FunctionRule(
        call if isinstance(call, str) else None, timeout if isinstance(timeout, int) else None
    )


# ---- the file ---------------------------------------------------------------------------------


def load_policy(data_dir: Path, *, loopback: bool = True) -> SecurityPolicy:
    """The policy in ``<data_dir>/security.json``. Without the file a loopback backend is dev-open,
    the local default of the contract; one bound beyond loopback starts closed."""
    path = data_dir / FILE_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return SecurityPolicy(dev_open=loopback)
    except OSError as exc:
        raise SecurityFileError(str(path), [exc.strerror or str(exc)]) from exc
    try:
        return parse_policy(json.loads(text))
    except ValueError as exc:
        raise SecurityFileError(str(path), [f"not JSON: {exc}"]) from exc
    except InvalidSecurityPolicyError as exc:
        raise SecurityFileError(str(path), exc.problems) from exc


def save_policy(data_dir: Path, policy: SecurityPolicy) -> None:
    write_json_atomic(data_dir / FILE_NAME, policy.to_json(), mode=0o600)
