"""``project:inspect``: which editor and runtime generation a project folder was saved for.

The OpenNoodl editor stamps ``project.json`` with a project ``version`` and knows one current value
(4 today). A project with a higher version was saved by a newer editor, which this one cannot open;
a lower one is upgraded when opened — after which older editors cannot open it any more. The
editor also rewrites some node parameters when it opens a project (its "project patches"): a Group
with ``scrollBehavior``, a Text with ``textAlign`` or ``justifyContent``/``alignItems``, an Event
Sender whose payload is still ports. This module reports all of that, plus the node types of the
project's cloud functions (``/#__cloud__/`` components) that the sidecar's runtime does not have,
and advises read-only when opening for writing would change or break something. The rules are
written from the editor's behaviour; nothing is copied from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sidecar.errors import InvalidParamsError

CURRENT_PROJECT_VERSION = 4
CLOUD_PREFIX = "/#__cloud__/"
BUILT_IN_TYPES = frozenset({"Component Inputs", "Component Outputs", "Component Children"})


def _has(parameters: Mapping[str, Any], *names: str) -> bool:
    return any(name in parameters for name in names)


# (node type, condition on its parameters and ports, what the current editor changes)
CHANGED_NODES: tuple[tuple[str, Callable[[Mapping[str, Any]], bool], str], ...] = (
    (
        "Group",
        lambda node: _has(node.get("parameters") or {}, "scrollBehavior"),
        "scrollBehavior/scrollDirection become scrollEnabled/nativeScroll",
    ),
    (
        "Text",
        lambda node: _has(node.get("parameters") or {}, "textAlign"),
        "textAlign becomes textAlignX",
    ),
    (
        "Text",
        lambda node: _has(node.get("parameters") or {}, "justifyContent", "alignItems"),
        "justifyContent/alignItems become textAlignX/textAlignY",
    ),
    (
        "Event Sender",
        lambda node: not (node.get("parameters") or {}).get("payload") and bool(node.get("ports")),
        "payload ports become a payload list",
    ),
)


def _walk(nodes: Any) -> Iterator[Mapping[str, Any]]:
    stack = list(nodes) if isinstance(nodes, list) else []
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            yield node
            children = node.get("children")
            if isinstance(children, list):
                stack.extend(children)


def read_project(project_dir: Path) -> dict[str, Any]:
    path = project_dir / "project.json"
    try:
        project = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InvalidParamsError(f"not a project folder: no project.json in {project_dir}") from exc
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InvalidParamsError(f"cannot read {path}: {exc}") from exc
    if not isinstance(project, dict) or not isinstance(project.get("components", []), list):
        raise InvalidParamsError(f"{path} is not an OpenNoodl project file")
    return project


def project_version(project: Mapping[str, Any]) -> int | None:
    """The stamped version (a string or a number in the wild); None when absent or unreadable."""
    raw = project.get("version")
    try:
        return int(str(raw)) if raw is not None else None
    except ValueError:
        return None


def project_id(project: Mapping[str, Any], project_dir: Path) -> str:
    """The project's own id when it has one, else its folder: the key links and decisions use."""
    own = project.get("id")
    return own if isinstance(own, str) and own else str(project_dir.resolve())


def inspect_project(project_dir: Path, runtime_types: frozenset[str]) -> dict[str, Any]:
    project = read_project(project_dir)
    version = project_version(project)
    components = [c for c in project.get("components", []) if isinstance(c, Mapping)]
    names = {str(c.get("name")) for c in components}
    missing: dict[str, dict[str, Any]] = {}
    changed: dict[tuple[str, str], dict[str, Any]] = {}
    cloud = 0
    for component in components:
        name = str(component.get("name"))
        graph = component.get("graph")
        if not isinstance(graph, Mapping):
            graph = {}
        is_cloud = name.startswith(CLOUD_PREFIX)
        cloud += is_cloud
        for node in _walk(graph.get("roots")):
            kind = str(node.get("type"))
            if is_cloud and kind not in runtime_types and kind not in names and kind not in BUILT_IN_TYPES:
                entry = missing.setdefault(kind, {"type": kind, "count": 0, "components": []})
                entry["count"] += 1
                if name not in entry["components"]:
                    entry["components"].append(name)
            for changed_type, condition, change in CHANGED_NODES:
                if kind == changed_type and condition(node):
                    row = changed.setdefault((kind, change), {"type": kind, "change": change, "count": 0})
                    row["count"] += 1
    reasons: list[str] = []
    if version is None:
        generation = "unknown"
        reasons.append("project.json has no readable version")
    elif version > CURRENT_PROJECT_VERSION:
        generation = "newer"
        reasons.append(f"saved by a newer editor (project version {version} > {CURRENT_PROJECT_VERSION})")
    elif version < CURRENT_PROJECT_VERSION:
        generation = "legacy"
        reasons.append(
            f"saved by an older editor (project version {version} < {CURRENT_PROJECT_VERSION}): opening it "
            "for writing upgrades it, and older editors cannot open it afterwards"
        )
    else:
        generation = "current"
    if missing:
        reasons.append(f"its cloud functions use {len(missing)} node type(s) the runtime does not have")
    if changed:
        reasons.append("opening it rewrites node parameters the current editor changed")
    return {
        "projectDir": str(project_dir.resolve()),
        "projectId": project_id(project, project_dir),
        "name": project.get("name") if isinstance(project.get("name"), str) else None,
        "projectVersion": version,
        "currentVersion": CURRENT_PROJECT_VERSION,
        "generation": generation,
        "cloudFunctions": cloud,
        "missingNodeTypes": sorted(missing.values(), key=lambda entry: str(entry["type"])),
        "changedNodeTypes": sorted(changed.values(), key=lambda entry: (entry["type"], entry["change"])),
        "readOnlyAdvised": generation != "current" or bool(missing),
        "reasons": reasons,
    }
