"""Composition root of ``noodl-sidecar stdio``: wire transport → session → methods, run, tear down.

Order at start: logging, signals and parent-death watch, pipes, then the session answers.
Order at the end: stop taking input, cancel or finish calls, stop services, drain the
pipe, flush logs. Every way out (exit notification, stdin EOF, SIGTERM, parent death,
corrupt stream) goes through the same path.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

import structlog

from ipc_schema.lifecycle import InitializeOptions, ServerInfo, SetLogLevelOptions
from sidecar import __version__, logs, preload, process
from sidecar.backends.manager import BackendManager
from sidecar.backends.registry import BackendRegistry
from sidecar.ipc.framing import FrameDecoder
from sidecar.ipc.handlers import (
    diagnostics_enabled,
    register_backend_methods,
    register_credential_methods,
    register_debugging_methods,
    register_deploy_methods,
    register_diagnostic_methods,
    register_github_methods,
    register_history_methods,
    register_migrate_methods,
    register_monitoring_methods,
    register_python_methods,
    register_runtime_methods,
    register_security_methods,
    register_system_methods,
    register_trigger_methods,
)
from sidecar.ipc.methods import MethodTable, Notify
from sidecar.ipc.session import RpcSession, SessionHooks
from sidecar.ipc.transport import FrameWriter, StreamCallbacks, open_pipes
from sidecar.lazy import Lazy

log = structlog.get_logger("sidecar")

_LAG_PROBE_S = 0.1
_DRAIN_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class StdioConfig:
    read_fd: int
    write_fd: int
    max_message_bytes: int
    parent_pid: int | None
    import_ms: float
    spawner_pid: int | None = None
    """The process that started us, as seen first thing at start: its death ends the session too."""


def github_service(manager: BackendManager) -> Any:
    """The editor-wide GitHub service: its token lives under ``$NOODL_HOME/github``."""
    from sidecar.github import GitHubService

    return GitHubService.for_home(manager.registry.root.parent)


def build_method_table(manager: BackendManager, notify: Notify, *, diagnostics: bool) -> MethodTable:
    table = MethodTable()
    register_system_methods(table)
    register_backend_methods(table, manager)
    register_trigger_methods(table, manager)
    register_security_methods(table, manager)
    register_credential_methods(table, manager)
    register_deploy_methods(table, manager)
    register_migrate_methods(table, manager)
    register_python_methods(table, manager)
    register_github_methods(table, Lazy(lambda: github_service(manager)).get)
    register_history_methods(table, manager, notify)
    register_debugging_methods(table, manager)
    register_monitoring_methods(table, manager)
    register_runtime_methods(table)
    if diagnostics:
        register_diagnostic_methods(table)
    return table


def server_info() -> ServerInfo:
    return ServerInfo(
        name="noodl-sidecar",
        version=__version__,
        python=sys.version.split()[0],
        pid=os.getpid(),
        frozen=bool(getattr(sys, "frozen", False)),
    )


async def serve(config: StdioConfig) -> int:
    loop = asyncio.get_running_loop()
    closed: asyncio.Future[tuple[int, str]] = loop.create_future()
    watchers: list[asyncio.Task[None]] = []

    def on_close(code: int, reason: str) -> None:
        if not closed.done():
            closed.set_result((code, reason))

    def watch_parent(pid: int | None) -> None:
        watchers.append(loop.create_task(process.watch_parent(pid, lambda why: session.close(1, why))))

    def on_initialize(options: InitializeOptions) -> None:
        # The handshake is answered; now load what the first backend:start will need.
        preload.start_preloading()
        logs.set_level(options.log_level)
        if options.log_notifications:
            logs.forward_to(lambda record: session.send_notification("$/log", [record]), options.log_level)
        if options.parent_pid is not None and options.parent_pid != config.parent_pid:
            watch_parent(options.parent_pid)

    def on_set_log_level(options: SetLogLevelOptions) -> None:
        logs.set_level(options.level)
        if options.log_notifications is not None:
            forward = (
                (lambda record: session.send_notification("$/log", [record]))
                if options.log_notifications
                else None
            )
            logs.forward_to(forward, options.level)

    async def stop_services() -> None:
        await manager.stop_all()

    def push_collection_change(change: dict[str, Any]) -> None:
        session.send_notification("backend:collectionChanged", [change])

    writer = FrameWriter(loop)
    hooks = SessionHooks(
        server_info=server_info,
        import_ms=config.import_ms,
        on_initialize=on_initialize,
        on_set_log_level=on_set_log_level,
        on_shutdown=stop_services,
        on_close=on_close,
    )
    manager = BackendManager(BackendRegistry.default(), push_collection_change)
    table = build_method_table(
        manager,
        lambda method, params: session.send_notification(method, params),  # the session comes next
        diagnostics=diagnostics_enabled(),
    )
    session = RpcSession(table, writer, hooks, config.max_message_bytes)
    callbacks = StreamCallbacks(receive=session.receive, eof=session.connection_lost, fatal=session.fatal)

    loop.add_signal_handler(signal.SIGTERM, lambda: session.close(0, "SIGTERM"))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the editor's terminal is not for us
    process.arm_parent_death_signal()  # usually armed already by the command line; idempotent
    watch_parent(config.parent_pid)
    if config.spawner_pid not in (None, config.parent_pid):
        watch_parent(config.spawner_pid)
    watchers.append(loop.create_task(_watch_loop_lag(session)))
    await open_pipes(
        config.read_fd, config.write_fd, writer, FrameDecoder(config.max_message_bytes), callbacks
    )
    log.info("ready", import_ms=config.import_ms, max_message_bytes=config.max_message_bytes)

    code, reason = await closed
    log.info("exiting", code=code, reason=reason)
    for watcher in watchers:
        watcher.cancel()
    await stop_services()
    await writer.drain(_DRAIN_TIMEOUT_S)
    if logs.dropped_lines():
        log.warning("log_lines_dropped", count=logs.dropped_lines())
    return code


async def _watch_loop_lag(session: RpcSession) -> None:
    """Warn when the loop is blocked: pings are answered on it, so the editor would notice."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(_LAG_PROBE_S)
        lag = time.perf_counter() - started - _LAG_PROBE_S
        if lag > _LAG_PROBE_S:
            log.warning("loop_lag", lag_ms=round(lag * 1000, 1), in_flight=session.in_flight_methods())
