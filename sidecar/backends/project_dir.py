"""``serve --project-dir``: what a backend takes from the editor project it is started for.

The editor passes the project folder (not the data directory) on every start. A project may ship a
permissions policy as ``nodegx.security.json``; the backend adopts it as its own ``security.json`` only
while it has none, so passing the flag on every start (restarts included) changes nothing after the
first, and a policy edited in the backend is never overwritten by the project's copy. A project file
that does not parse refuses the start, as an unreadable ``security.json`` does: serving without the
rules the user wrote would be worse than not serving.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from sidecar.backends.security_policy import FILE_NAME, parse_policy, save_policy
from sidecar.errors import InvalidSecurityPolicyError, SecurityFileError

PROJECT_POLICY_FILE = "nodegx.security.json"


class ProjectPolicy(Enum):
    NONE = "none"
    """No project folder, or it ships no policy."""
    INSTALLED = "installed"
    """The project's policy became this backend's ``security.json`` on this start."""
    KEPT = "kept"
    """The backend already had a policy; the project's copy was left alone."""


@dataclass(frozen=True)
class ProjectInfo:
    project_dir: Path | None
    policy: ProjectPolicy

    def to_json(self) -> dict[str, Any]:
        return {
            "projectDir": str(self.project_dir) if self.project_dir is not None else None,
            "projectPolicy": self.policy.value,
        }


def adopt_project(project_dir: Path | None, data_dir: Path) -> ProjectInfo:
    """Install the project's policy into ``data_dir`` when the backend has none yet."""
    if project_dir is None:
        return ProjectInfo(None, ProjectPolicy.NONE)
    source = project_dir / PROJECT_POLICY_FILE
    if not source.is_file():
        return ProjectInfo(project_dir, ProjectPolicy.NONE)
    if (data_dir / FILE_NAME).exists():
        return ProjectInfo(project_dir, ProjectPolicy.KEPT)
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SecurityFileError(str(source), [str(exc)]) from exc
    try:
        policy = parse_policy(raw)
    except InvalidSecurityPolicyError as exc:
        raise SecurityFileError(str(source), exc.problems) from exc
    save_policy(data_dir, policy)
    return ProjectInfo(project_dir, ProjectPolicy.INSTALLED)
