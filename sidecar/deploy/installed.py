"""What ``/health`` shows of an installed deploy bundle (``deploy/installed.json``, written by
``sidecar.deploy.install``). Its own module, so a backend start reads it without loading the deploy
package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sidecar.jsonfile import read_json

INSTALLED = Path("deploy") / "installed.json"


def installed_bundle(data_dir: Path) -> dict[str, Any] | None:
    """What ``/health`` shows under ``bundle``: the installed bundle's hash and times, or ``None``."""
    try:
        manifest = read_json(data_dir / INSTALLED)
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    return {
        "hash": manifest.get("bundleHash"),
        "createdAt": manifest.get("createdAt"),
        "installedAt": manifest.get("installedAt"),
        "sidecarVersion": manifest.get("sidecarVersion"),
    }
