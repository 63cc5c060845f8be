"""Composition root of ``noodl-sidecar serve``: one backend, the editor supervisor's contract.

The contract: stdin is ignored (the supervisor leaves it closed, so its EOF means nothing
here); exactly one ``NODEGX_BACKEND_READY {json}`` line on stdout once the port is bound and
persistence is open; SIGTERM, SIGINT, SIGHUP (unless ignored, as under ``nohup``) or the
death of ``--parent-pid`` drains and exits well within the supervisor's 3 s grace. Without
``--parent-pid`` no process is watched: a ``serve`` started from a shell outlives it.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import structlog

from sidecar import process
from sidecar.backends.backend import Backend, BackendSpec
from sidecar.backends.project_dir import adopt_project
from sidecar.backends.registry import ensure_admin_token
from sidecar.errors import UnsafeBindError
from sidecar.private_files import private_dir
from sidecar.runtime import egress
from sidecar.web.settings import is_loopback

log = structlog.get_logger("sidecar.serve")

READY_PREFIX = "NODEGX_BACKEND_READY "
STOP_DEADLINE_S = 2.5


@dataclass(frozen=True)
class ServeConfig:
    data_dir: Path
    port: int
    host: str
    token: str | None
    backend_id: str
    backend_name: str
    parent_pid: int | None
    ephemeral: bool
    launcher_pid: int | None = None
    """The editor launcher between the supervisor and us (``NOODL_SIDECAR_LAUNCHER_PID``): its death
    ends us too, so a kill of the launcher alone leaves nothing behind."""
    ready_stream: TextIO = field(default_factory=lambda: sys.stdout)
    """Where the READY line goes: the real stdout, which the command keeps for that line alone."""
    project_dir: Path | None = None
    database_url: str | None = None
    """``postgres://…``: keep the records on that PostgreSQL server instead of the data directory's SQLite
    file (``serve --database-url`` or ``DATABASE_URL``)."""


def ready_line(port: int, persistence: str, engine: str) -> str:
    """``persistence``: persistent, ephemeral, or memory-fallback (the database could not be used)."""
    ready = {
        "port": port,
        "url": f"http://127.0.0.1:{port}",
        "persistence": persistence,
        "engine": engine,
    }
    return READY_PREFIX + json.dumps(ready, separators=(",", ":"))


async def serve(config: ServeConfig) -> int:
    loop = asyncio.get_running_loop()
    stopping: asyncio.Future[str] = loop.create_future()

    def request_stop(reason: str) -> None:
        if not stopping.done():
            stopping.set_result(reason)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_IGN:
            continue  # nohup (or a supervisor) asked for this signal to be ignored: keep it so
        loop.add_signal_handler(signum, request_stop, signal.Signals(signum).name)
    watched = {pid for pid in (config.parent_pid, config.launcher_pid) if pid is not None}
    watchers = [loop.create_task(process.watch_parent(pid, request_stop)) for pid in watched]

    if not is_loopback(config.host) and not config.token:
        # A generated token nobody knows would leave the port open to the network in practice.
        raise UnsafeBindError(f"refusing to bind {config.host} without an admin token (pass --token)")
    private_dir(config.data_dir)
    # A backend served to other machines keeps its functions off private networks.
    egress.configure(egress.policy_for_serve(is_loopback(config.host)))
    project = adopt_project(config.project_dir, config.data_dir)  # before the backend reads security.json
    spec = BackendSpec(
        data_dir=config.data_dir,
        backend_id=config.backend_id,
        name=config.backend_name,
        admin_token=ensure_admin_token(config.data_dir, config.token),
        host=config.host,
        port=config.port,
        ephemeral=config.ephemeral,
        project_dir=config.project_dir,
        database_url=config.database_url,
        project_policy=project.policy.value,
    )
    backend = Backend(spec)
    await backend.start()  # raises with a clear message: persistence, bind, unsafe host
    config.ready_stream.write(ready_line(backend.port, backend.persistence()["mode"], backend.engine) + "\n")
    config.ready_stream.flush()

    reason = await stopping
    log.info("stopping", reason=reason)
    for watcher in watchers:
        watcher.cancel()
    try:
        await asyncio.wait_for(backend.stop(), STOP_DEADLINE_S)
    except TimeoutError:
        log.error("stop_deadline_passed", seconds=STOP_DEADLINE_S)
        return 1
    return 0
