"""The release history of one backend on one target: ``<data>/deploy/releases/<target>.json``.

A release is one attempt to put a bundle on the target: ``version`` (1, 2, …), ``bundleHash``, ``image``
(reference and digest), ``by`` and ``at``, ``status`` (``deploying`` → ``live``, or ``failed`` /
``cancelled`` with the ``stage`` and ``error``; a live release becomes ``superseded`` when another goes
live), per-stage seconds, ``rollbackOf`` when it redeployed an earlier one, and its log lines. Nothing in
it is a token or a secret value (log lines pass through :func:`redact_secrets` as they are added).
"""

from __future__ import annotations

import getpass
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sidecar.errors import ReleaseNotFoundError
from sidecar.jsonfile import read_json, write_json_atomic
from sidecar.secret_text import redact_secrets

_LOCK = threading.Lock()
MAX_LOG_LINES = 400


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def who() -> str:
    explicit = os.environ.get("NOODL_DEPLOY_USER")
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in a bare container
        return "unknown"


class ReleaseLog:
    def __init__(self, data_dir: Path, target: str) -> None:
        self.path = data_dir / "deploy" / "releases" / f"{target}.json"
        self.target = target

    def all(self) -> list[dict[str, Any]]:
        document = read_json(self.path) or {}
        releases = document.get("releases") if isinstance(document, dict) else None
        return list(releases) if isinstance(releases, list) else []

    def _write(self, releases: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.path, {"version": 1, "target": self.target, "releases": releases})

    def get(self, version: int) -> dict[str, Any]:
        for release in self.all():
            if release.get("version") == version:
                return release
        raise ReleaseNotFoundError(f"target {self.target} has no release {version}")

    def live(self) -> dict[str, Any] | None:
        for release in reversed(self.all()):
            if release.get("status") == "live":
                return dict(release)
        return None

    def start(self, bundle_hash: str, rollback_of: int | None = None) -> dict[str, Any]:
        with _LOCK:
            releases = self.all()
            version = max((int(item.get("version", 0)) for item in releases), default=0) + 1
            release: dict[str, Any] = {
                "version": version,
                "target": self.target,
                "bundleHash": bundle_hash,
                "image": None,
                "by": who(),
                "at": now(),
                "status": "deploying",
                "stages": {},
                "logs": [],
            }
            if rollback_of is not None:
                release["rollbackOf"] = rollback_of
            releases.append(release)
            self._write(releases)
            return release

    def update(self, version: int, **changes: Any) -> dict[str, Any]:
        with _LOCK:
            releases = self.all()
            for release in releases:
                if release.get("version") == version:
                    release.update(changes)
                    if changes.get("status") == "live":
                        for other in releases:
                            if other is not release and other.get("status") == "live":
                                other["status"] = "superseded"
                    self._write(releases)
                    return release
        raise ReleaseNotFoundError(f"target {self.target} has no release {version}")

    def log(self, version: int, line: str) -> None:
        with _LOCK:
            releases = self.all()
            for release in releases:
                if release.get("version") == version:
                    lines = release.setdefault("logs", [])
                    lines.append(f"{now()} {redact_secrets(line)}")
                    del lines[:-MAX_LOG_LINES]
                    self._write(releases)
                    return
