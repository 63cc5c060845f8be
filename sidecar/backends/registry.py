"""The backend registry: one folder per backend under ``$NOODL_HOME/backends`` (default ``~/.noodl``).

Layout of a backend folder::

    <id>/config.json     {id, name, createdAt, port, projectIds}   (the editor's metadata)
    <id>/schema.json     {tables: []}                              (git-trackable schema)
    <id>/secrets.json    {adminToken}                              (mode 0600)
    <id>/data/           local.db lives here (mode 0600, as executions.sqlite)
    <id>/workflows/      <name>.workflow.json, one runtime export per cloud function
    <id>/files/          uploaded files (mode 0600)

Every write is atomic (temp file + rename), so a crash never leaves half a config. The folders are
owner-only (0700, ``sidecar.private_files``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from sidecar.errors import InvalidParamsError, RequestFailedError
from sidecar.jsonfile import write_json_atomic
from sidecar.private_files import private_dir

log = structlog.get_logger("sidecar.backends")

FIRST_PORT = 8578  # 8577 stays reserved for the legacy cloud-function server
LAST_PORT = 65535
_ID_PATTERN = re.compile(r"^backend_[0-9a-z]{1,32}$")
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
MAX_NAME_LENGTH = 200
MAX_PROJECT_ID_LENGTH = 1024


class BackendNotFoundError(RequestFailedError):
    def __init__(self, backend_id: str) -> None:
        super().__init__(f"Backend not found: {backend_id}", data={"backendId": backend_id})


@dataclass(frozen=True)
class BackendConfig:
    """``config.json``: what the editor lists and shows."""

    id: str
    name: str
    created_at: str
    port: int
    project_ids: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "createdAt": self.created_at,
            "port": self.port,
            "projectIds": list(self.project_ids),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BackendConfig:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            created_at=str(data["createdAt"]),
            port=int(data["port"]),
            project_ids=tuple(str(p) for p in data.get("projectIds", [])),
        )


def noodl_home() -> Path:
    override = os.environ.get("NOODL_HOME")
    return Path(override) if override else Path.home() / ".noodl"


def new_backend_id(now_ms: int | None = None) -> str:
    """``backend_`` + base36(epoch ms) + 5 random base36 characters."""
    value = int(time.time() * 1000) if now_ms is None else now_ms
    digits = ""
    while value:
        value, rest = divmod(value, 36)
        digits = _BASE36[rest] + digits
    return "backend_" + (digits or "0") + "".join(secrets.choice(_BASE36) for _ in range(5))


def validate_backend_id(backend_id: object) -> str:
    if not isinstance(backend_id, str) or not _ID_PATTERN.match(backend_id):
        raise InvalidParamsError(f"invalid backend id: {backend_id!r}", data={"backendId": repr(backend_id)})
    return backend_id


def validate_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParamsError("a backend name must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParamsError(f"a backend name is at most {MAX_NAME_LENGTH} characters")
    return name.strip()


def validate_project_id(project_id: object) -> str:
    """The editor's project id: any non-empty string (a folder path or a UUID), without control characters."""
    if not isinstance(project_id, str) or not project_id.strip():
        raise InvalidParamsError("a project id must be a non-empty string")
    if len(project_id) > MAX_PROJECT_ID_LENGTH or any(ord(ch) < 32 for ch in project_id):
        raise InvalidParamsError(
            f"a project id is at most {MAX_PROJECT_ID_LENGTH} characters, without control characters"
        )
    return project_id


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the server binds: a port whose last connections linger in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(taken: Iterable[int]) -> int:
    """The first port from 8578 up that no known backend uses and nothing listens on."""
    known = set(taken)
    for port in range(FIRST_PORT, LAST_PORT + 1):
        if port not in known and port_is_free(port):
            return port
    raise RequestFailedError("no free port left for a new backend")


class BackendRegistry:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def default(cls) -> BackendRegistry:
        return cls(noodl_home() / "backends")

    def data_dir(self, backend_id: str) -> Path:
        return self.root / validate_backend_id(backend_id)

    def list(self) -> list[BackendConfig]:
        if not self.root.is_dir():
            return []
        configs = []
        for folder in sorted(self.root.iterdir()):
            if not _ID_PATTERN.match(folder.name):
                continue
            config = self._read_config(folder)
            if config is not None:
                configs.append(config)
        return sorted(configs, key=lambda config: config.created_at)

    def get(self, backend_id: str) -> BackendConfig | None:
        folder = self.data_dir(backend_id)
        return self._read_config(folder) if folder.is_dir() else None

    def require(self, backend_id: str) -> BackendConfig:
        config = self.get(backend_id)
        if config is None:
            raise BackendNotFoundError(backend_id)
        return config

    def create(self, name: str) -> BackendConfig:
        """Make the folder complete in a temporary place, then rename it into the registry."""
        clean_name = validate_name(name)
        private_dir(self.root)
        backend_id = new_backend_id()
        config = BackendConfig(
            id=backend_id,
            name=clean_name,
            created_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            port=pick_port(c.port for c in self.list()),
        )
        staging = self.root / f".{backend_id}.creating"
        staging.mkdir(mode=0o700)
        try:
            private_dir(staging)  # exactly 0700 whatever the umask, before anything is written in it
            for sub in ("data", "workflows", "files"):
                private_dir(staging / sub)
            write_json_atomic(staging / "config.json", config.to_json())
            write_json_atomic(staging / "schema.json", {"tables": []})
            write_json_atomic(staging / "secrets.json", {"adminToken": secrets.token_urlsafe(32)}, mode=0o600)
            os.rename(staging, self.root / backend_id)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        log.info("backend_created", backend_id=backend_id, port=config.port)
        return config

    def set_project_ids(self, backend_id: str, project_ids: Iterable[str]) -> BackendConfig:
        """Rewrite ``projectIds`` of config.json (atomically; the file's other keys kept as they are)."""
        config = self.require(backend_id)
        path = self.data_dir(backend_id) / "config.json"
        try:
            stored: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = config.to_json()
        stored["projectIds"] = list(dict.fromkeys(project_ids))
        write_json_atomic(path, stored)
        return BackendConfig.from_json(stored)

    def delete(self, backend_id: str) -> None:
        folder = self.data_dir(backend_id)
        if not folder.is_dir():
            raise BackendNotFoundError(backend_id)
        # Rename first so a half-finished delete never looks like a live backend.
        doomed = self.root / f".{backend_id}.deleting"
        os.rename(folder, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        log.info("backend_deleted", backend_id=backend_id)

    def _read_config(self, folder: Path) -> BackendConfig | None:
        try:
            return BackendConfig.from_json(json.loads((folder / "config.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("backend_config_unreadable", folder=str(folder), error=str(exc))
            return None


def read_admin_token(data_dir: Path) -> str | None:
    try:
        token = json.loads((data_dir / "secrets.json").read_text(encoding="utf-8")).get("adminToken")
    except (OSError, ValueError, AttributeError):
        return None
    return token if isinstance(token, str) and token else None


def ensure_admin_token(data_dir: Path, token: str | None = None) -> str:
    """Return the admin token of ``data_dir``, provisioning ``token`` (or a new one) in secrets.json."""
    path = data_dir / "secrets.json"
    try:
        current: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        current = {}
    wanted = token or current.get("adminToken") or secrets.token_urlsafe(32)
    if current.get("adminToken") != wanted or not path.exists():
        write_json_atomic(path, {**current, "adminToken": wanted}, mode=0o600)
    os.chmod(path, 0o600)
    return str(wanted)
