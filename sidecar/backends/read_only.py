"""Projects opened read-only (``project:set-read-only``), and the guard their backends obey.

The decisions live in ``$NOODL_HOME/projects.json`` (``{"projects": {projectId: {projectDir,
readOnly, decidedAt}}}``), never in the project folder, which read-only means we leave alone. A
backend linked to a read-only project (``projectIds``, ``backend:link-project``) refuses deploys and
schema changes with ``PROJECT_READ_ONLY``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sidecar.errors import RequestFailedError
from sidecar.jsonfile import write_json_atomic


class ProjectReadOnlyError(RequestFailedError):
    code = "PROJECT_READ_ONLY"
    http_status = 409

    def __init__(self, action: str, project_id: str) -> None:
        super().__init__(
            f"cannot {action}: the backend's project {project_id} is open read-only "
            "(project:set-read-only false to allow changes)",
            data={"code": self.code, "projectId": project_id},
        )


class ReadOnlyProjects:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, Any]:
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        projects = stored.get("projects") if isinstance(stored, dict) else None
        return projects if isinstance(projects, dict) else {}

    def record(self, project_id: str, project_dir: str, read_only: bool) -> dict[str, Any]:
        projects = self._load()
        decided = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        entry = {"projectDir": project_dir, "readOnly": read_only, "decidedAt": decided}
        projects[project_id] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, {"projects": projects})
        return {"projectId": project_id, **entry}

    def decision(self, project_id: str) -> bool | None:
        entry = self._load().get(project_id)
        return bool(entry.get("readOnly")) if isinstance(entry, dict) else None

    def require_writable(self, project_ids: Iterable[str], action: str) -> None:
        projects = self._load()
        for project_id in project_ids:
            entry = projects.get(project_id)
            if isinstance(entry, dict) and entry.get("readOnly") is True:
                raise ProjectReadOnlyError(action, project_id)
