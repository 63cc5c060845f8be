"""The last deployed versions of a backend's workflow bundles, to list and to roll back to.

Each deploy that changes a bundle's content becomes a version: a number counting up per backend, the
bundle's name, when it was deployed, the SHA-256 of its content (canonical JSON) and its functions.
The newest ``keep`` versions of the backend are kept (default 10), each with its export, in
``workflows/.versions/`` (``index.json`` and ``<version>.export.json``); older ones are deleted as new
ones arrive. Deploying the content a bundle already has adds no version.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import structlog

from sidecar.errors import RequestFailedError
from sidecar.jsonfile import read_json, write_json_atomic

log = structlog.get_logger("sidecar.backends.workflow_versions")

DEFAULT_KEEP = 10
FOLDER = ".versions"
_INDEX = "index.json"


class WorkflowVersionNotFoundError(RequestFailedError):
    http_status = 404

    def __init__(self, version: int) -> None:
        super().__init__(f"workflow version not found: {version}", data={"version": version})


def content_hash(export: Any) -> str:
    """SHA-256 of the export as canonical JSON: the same content, whatever its key order, one hash."""
    text = json.dumps(export, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class WorkflowVersion:
    version: int
    workflow: str
    deployed_at: int  # epoch ms
    hash: str
    functions: tuple[str, ...]
    rollback_of: int | None = None
    active: bool = False  # the content the bundle runs now (filled in when listed)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "workflow": self.workflow,
            "deployedAt": self.deployed_at,
            "hash": self.hash,
            "functions": list(self.functions),
            "rollbackOf": self.rollback_of,
            "active": self.active,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkflowVersion:
        return cls(
            version=int(data["version"]),
            workflow=str(data["workflow"]),
            deployed_at=int(data["deployedAt"]),
            hash=str(data["hash"]),
            functions=tuple(str(name) for name in data.get("functions") or ()),
            rollback_of=data.get("rollbackOf"),
        )


class WorkflowVersions:
    """One backend's kept versions; the index is read once and written on every change."""

    def __init__(self, folder: Path, keep: int = DEFAULT_KEEP) -> None:
        if keep < 1:
            raise ValueError("keep at least one version")
        self.folder = folder
        self.keep = keep
        self._versions: list[WorkflowVersion] = []  # oldest first
        self._next = 1
        self._load()

    def _load(self) -> None:
        try:
            index = read_json(self.folder / _INDEX)
            if isinstance(index, dict):
                self._versions = [WorkflowVersion.from_json(item) for item in index.get("versions") or []]
                self._next = max([int(index.get("next") or 1), *(v.version + 1 for v in self._versions)])
        except (OSError, ValueError, KeyError, TypeError) as error:  # a damaged index: start a new one
            log.error("workflow versions unreadable", folder=str(self.folder), error=repr(error))
            self._versions, self._next = [], 1

    def latest(self, workflow: str) -> WorkflowVersion | None:
        return next((v for v in reversed(self._versions) if v.workflow == workflow), None)

    def record(
        self, workflow: str, export: Any, functions: list[str], *, rollback_of: int | None = None
    ) -> WorkflowVersion:
        """The version ``export`` is for ``workflow``: the newest one when its content is the same."""
        digest = content_hash(export)
        latest = self.latest(workflow)
        if latest is not None and latest.hash == digest:
            return latest
        version = WorkflowVersion(
            version=self._next,
            workflow=workflow,
            deployed_at=time.time_ns() // 1_000_000,
            hash=digest,
            functions=tuple(functions),
            rollback_of=rollback_of,
        )
        write_json_atomic(self._export_path(version.version), export)
        self._next += 1
        self._versions.append(version)
        dropped, self._versions = self._versions[: -self.keep], self._versions[-self.keep :]
        self._write_index()
        for old in dropped:
            self._export_path(old.version).unlink(missing_ok=True)
        return version

    def get(self, version: int) -> WorkflowVersion:
        found = next((v for v in self._versions if v.version == version), None)
        if found is None:
            raise WorkflowVersionNotFoundError(version)
        return found

    def export_of(self, version: int) -> Any:
        self.get(version)
        try:
            return json.loads(self._export_path(version).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise RequestFailedError(f"workflow version {version} cannot be read: {error}") from error

    def listed(self, active_hashes: dict[str, str]) -> list[WorkflowVersion]:
        """Newest first; ``active`` marks, per bundle, the newest version with the content it runs now."""
        marked: set[str] = set()
        listed = []
        for version in reversed(self._versions):
            active = version.workflow not in marked and active_hashes.get(version.workflow) == version.hash
            if active:
                marked.add(version.workflow)
            listed.append(replace(version, active=active))
        return listed

    def _export_path(self, version: int) -> Path:
        return self.folder / f"{version}.export.json"

    def _write_index(self) -> None:
        versions = [version.to_json() for version in self._versions]
        for item in versions:
            del item["active"]  # a property of the running backend, not of the version
        write_json_atomic(self.folder / _INDEX, {"next": self._next, "versions": versions})
