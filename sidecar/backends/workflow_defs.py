"""Workflow definitions (``/admin/workflow-defs``): stored, validated and listed; not yet run.

A definition is the editor canvas's document: ``{id, name?, entry, steps: [{id, kind, next?, routes?,
params?, ui?}], …}``. Each lives in ``<data dir>/workflow-defs/<id>.json``, written atomically. The shape
is checked before anything is written (a definition that could not be read back would be worse than a
refusal): the id, unique step ids, a string kind per step, an ``entry`` and every ``next``/``routes``
target naming a step of the same definition.

This backend has no engine for these definitions yet (its cloud functions are node graphs), so its
step-kind catalog is empty, a run is refused with 501 and there is never an active run to cancel.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sidecar.errors import InvalidParamsError
from sidecar.jsonfile import read_json, write_json_atomic

DEFS_DIR = "workflow-defs"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,127}$")
NO_ENGINE = (
    "This backend stores workflow definitions but has no engine to run them yet; "
    "its cloud functions run as node graphs (/functions/:name)."
)


class WorkflowDefinitionError(InvalidParamsError):
    """A definition refused; the message lists every problem."""


class WorkflowDefinitions:
    def __init__(self, data_dir: Path) -> None:
        self._dir = data_dir / DEFS_DIR

    def all(self) -> list[dict[str, Any]]:
        if not self._dir.is_dir():
            return []
        found = []
        for path in sorted(self._dir.glob("*.json")):
            try:
                document = read_json(path)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a file edited by hand into nonsense is skipped, not served
            if isinstance(document, dict):
                found.append(document)
        return found

    def get(self, definition_id: str) -> dict[str, Any] | None:
        if not _ID.match(definition_id):
            return None
        try:
            document = read_json(self._path(definition_id))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        return document if isinstance(document, dict) else None

    def preview(self, raw: Any, definition_id: str | None = None) -> tuple[list[str], dict[str, Any] | None]:
        """``(problems, the definition that would be stored)``; nothing is written."""
        if not isinstance(raw, Mapping):
            return ["a workflow definition must be an object"], None
        definition = dict(raw)
        if definition_id is not None:
            definition["id"] = definition_id
        problems = _problems(definition)
        return problems, (None if problems else definition)

    def upsert(self, raw: Any, definition_id: str | None = None) -> tuple[bool, dict[str, Any]]:
        """``(created, definition)``; raises ``WorkflowDefinitionError`` naming every problem. A
        definition created without an ``id`` gets one from its ``name`` (or a random one)."""
        if definition_id is None and isinstance(raw, Mapping) and not raw.get("id"):
            definition_id = self._new_id(raw.get("name"))
        problems, definition = self.preview(raw, definition_id)
        if definition is None:
            raise WorkflowDefinitionError("invalid workflow definition: " + "; ".join(problems))
        created = self.get(definition["id"]) is None
        write_json_atomic(self._path(definition["id"]), definition)
        return created, definition

    def delete(self, definition_id: str) -> bool:
        if not _ID.match(definition_id):
            return False
        path = self._path(definition_id)
        if not path.exists():
            return False
        path.unlink()
        return True

    def _new_id(self, name: Any) -> str:
        base = re.sub(r"[^A-Za-z0-9_\-]+", "-", name).strip("-_")[:100] if isinstance(name, str) else ""
        if base and _ID.match(base) and self.get(base) is None:
            return base
        return f"{base or 'workflow'}-{secrets.token_hex(3)}"

    def _path(self, definition_id: str) -> Path:
        return self._dir / f"{definition_id}.json"


def _problems(definition: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    definition_id = definition.get("id")
    if not isinstance(definition_id, str) or not _ID.match(definition_id):
        problems.append("id: letters, digits, '_' or '-', starting with a letter or digit, at most 128")
    steps = definition.get("steps")
    if not isinstance(steps, list) or not steps:
        return [*problems, "steps: a non-empty array of steps is required"]
    ids: list[str] = []
    for index, step in enumerate(steps):
        where = f"steps[{index}]"
        if not isinstance(step, Mapping):
            problems.append(f"{where}: must be an object")
            continue
        step_id = step.get("id")
        if not isinstance(step_id, str) or not step_id:
            problems.append(f"{where}.id: a non-empty string is required")
        elif step_id in ids:
            problems.append(f"{where}.id: {step_id!r} is used twice")
        else:
            ids.append(step_id)
        if not isinstance(step.get("kind"), str) or not step.get("kind"):
            problems.append(f"{where}.kind: a non-empty string is required")
    entry = definition.get("entry", ids[0] if ids else None)
    if entry not in ids:
        problems.append(f"entry: {entry!r} is not a step of this workflow")
    for index, step in enumerate(steps):
        if isinstance(step, Mapping):
            problems += _target_problems(f"steps[{index}]", step, ids)
    return problems


def _target_problems(where: str, step: Mapping[str, Any], ids: list[str]) -> list[str]:
    problems: list[str] = []
    targets: list[tuple[str, Any]] = []
    following = step.get("next")
    if following is not None:
        if not isinstance(following, list):
            return [f"{where}.next: must be an array of step ids"]
        targets += [(f"{where}.next", target) for target in following]
    routes = step.get("routes")
    if routes is not None:
        if not isinstance(routes, Mapping) or not all(isinstance(v, list) for v in routes.values()):
            return [*problems, f"{where}.routes: must map each route to an array of step ids"]
        targets += [(f"{where}.routes.{name}", t) for name, listed in routes.items() for t in listed]
    problems += [
        f"{place}: {target!r} is not a step of this workflow"
        for place, target in targets
        if target not in ids
    ]
    return problems
