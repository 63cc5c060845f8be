"""``WebSettings``: everything the HTTP door needs to know about the backend it serves."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from sidecar.errors import UnsafeBindError

MB = 1024 * 1024


@dataclass(frozen=True)
class WebSettings:
    app_id: str
    """The Parse application id; for a local backend it is the backend id."""
    master_key: str | None = None
    """The backend's admin token: accepted as ``X-Parse-Master-Key`` (or ``_MasterKey``) and as
    ``Authorization: Bearer``. ``None`` = no admin access over HTTP."""
    mount: str = "/"
    """Where the Parse routes live: ``/`` for the editor's local backend, ``/parse`` for stock clients."""
    host: str = "127.0.0.1"
    port: int = 0
    client_keys: frozenset[str] = frozenset()
    """REST/JavaScript/client keys; when any is configured, non-master requests must carry one."""
    allowed_hosts: frozenset[str] = frozenset()
    """Extra names accepted in the ``Host`` header (besides loopback names and the bound address)."""
    cors_origin: str = "*"
    json_body_limit: int = 10 * MB
    file_body_limit: int = 50 * MB
    webhook_body_limit: int = 50 * MB
    """The door's limit on ``/hooks/…``: the largest ``maxBodyBytes`` a webhook trigger may declare (each
    trigger's own limit is applied by the webhook gateway)."""
    files_dir: Path | None = None
    """Where uploads are kept; ``None`` disables uploads (130)."""
    config_path: Path | None = None
    """``config-params.json``: the ``params`` served by ``/config``; ``None`` keeps them in memory."""
    server_version: str = "7.4.0"
    """Reported by ``/serverInfo``; Noodl picks modern aggregate syntax when the major is above 4."""
    heartbeat_seconds: float = 25.0
    realtime_queue_size: int = 1000
    """Frames buffered per SSE client before it is told to ``resync``."""
    service_name: str = "noodl-sidecar"
    credential_failures_allowed: int = 10
    credential_window_seconds: float = 300.0
    """A client whose credentials failed this many times within the window gets 429 for further failures."""

    @property
    def mount_prefix(self) -> str:
        """The mount without a trailing slash (``""`` for the root)."""
        return "/" + self.mount.strip("/") if self.mount.strip("/") else ""

    def check_bind(self) -> None:
        """Refuse to listen beyond loopback unless an admin token guards the backend."""
        if not is_loopback(self.host) and not self.master_key:
            raise UnsafeBindError(f"refusing to bind {self.host} without an admin token")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
