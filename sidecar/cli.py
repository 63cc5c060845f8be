"""The ``noodl-sidecar`` command line.

``stdio`` is what the editor spawns: the protocol owns stdin/stdout, logs go to
stderr. Its descriptors are claimed before anything else is imported, and heavy
modules load after that, so start-up stays short (docs/protocol.md, "Transport").

Every other command keeps stdout for its one product and sends logs to stderr:
``run`` its JSON answer line, ``serve`` its READY line, ``doctor`` its report.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

_MIB = 1024 * 1024


_LOG_LEVELS = ["debug", "info", "warning", "error", "critical"]


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    spawner_pid = os.getppid()  # before anything slow: the parent may die while we import
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["stdio"]:
        if "-h" in args or "--help" in args:
            _stdio_parser().parse_args(args[1:])  # prints to the real stdout and exits
        from sidecar.ipc.stdout_guard import claim_stdio

        read_fd, write_fd = claim_stdio()
        from sidecar import process

        process.arm_parent_death_signal()
        stop_watch = process.watch_input_during_startup(read_fd)
        return _stdio(args[1:], read_fd, write_fd, started, spawner_pid, stop_watch)
    if args[:1] == ["python-worker"]:  # hidden: a worker of the Python node pool (sidecar.python_runtime)
        from sidecar.python_runtime.worker_entry import main as worker_main

        return worker_main(args[1:])
    if args[:1] == ["run"]:
        from sidecar.runtime.run_command import main as run_main

        return run_main(args[1:])
    if args[:1] in (["export"], ["import"]):
        from sidecar.backends.transfer_command import main as transfer_main

        return transfer_main(args[0], args[1:])
    if args[:1] == ["deploy"]:
        from sidecar.deploy.command import main as deploy_main

        return deploy_main(args[1:])
    if args[:1] == ["migrate"]:
        from sidecar.migrate.command import main as migrate_main

        return migrate_main(args[1:])
    parser = _parser()
    parsed = parser.parse_args(args)
    if parsed.command == "serve":
        return _serve(parsed)
    if parsed.command == "doctor":
        return _doctor(parsed)
    parser.print_help(sys.stderr)
    return 2


def _parser() -> argparse.ArgumentParser:
    from sidecar import __version__

    parser = argparse.ArgumentParser(
        prog="noodl-sidecar", description="Local backend for the OpenNoodl editor."
    )
    parser.add_argument("--version", action="version", version=f"noodl-sidecar {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Their own parsers (below and in run_command) hold their options; these entries are for the list.
    commands.add_parser(
        "stdio", help="speak msgpack-RPC on stdin/stdout (what the editor spawns)", add_help=False
    )
    commands.add_parser(
        "run",
        help="run one cloud function of an export and print its answer as one JSON line",
        add_help=False,
    )
    commands.add_parser(
        "deploy", help="write a backend's container build context (sidecar.deploy.command)", add_help=False
    )
    commands.add_parser(
        "migrate",
        help="copy an embedded backend (records, users, sessions, roles, history) into PostgreSQL",
        add_help=False,
    )
    serve = commands.add_parser(
        "serve", help="serve one backend over HTTP (the editor supervisor's contract)"
    )
    serve.add_argument(
        "--data-dir", type=Path, required=True, help="the backend's directory (created when missing)"
    )
    serve.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free port (default)")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need --token)"
    )
    serve.add_argument(
        "--token",
        default=None,
        help="admin token, also the Parse master key (default: the one in secrets.json, made once)",
    )
    serve.add_argument(
        "--backend-id",
        default=None,
        help="backend id, also the Parse application id (default: the data directory's name)",
    )
    serve.add_argument("--backend-name", default=None, help="display name (default: the backend id)")
    serve.add_argument(
        "--parent-pid",
        type=int,
        default=None,
        help="drain and exit when this process dies (default: watch no process)",
    )
    serve.add_argument("--ephemeral", action="store_true", help="keep data in memory only")
    serve.add_argument(
        "--database-url",
        default=None,
        help="postgres://… keeps the records and the execution history on that PostgreSQL server "
        "(default: $DATABASE_URL when set, else SQLite in the data directory)",
    )
    serve.add_argument(
        "--project-dir",
        type=Path,
        default=None,
        help="the editor project this backend serves: its nodegx.security.json seeds security.json",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=_LOG_LEVELS,
        help="log lines on stderr from this level (default info)",
    )
    doctor = commands.add_parser(
        "doctor",
        help="check that persistence opens, without binding a port; prints one JSON report",
        description="Exit status 0 when persistence opens, 1 when it does not (the report says why).",
    )
    doctor.add_argument(
        "--data-dir", type=Path, required=True, help="the backend's directory (nothing is created in it)"
    )
    doctor.add_argument(
        "--ephemeral", action="store_true", help="check an in-memory store instead of the directory's"
    )
    doctor.add_argument(
        "--log-level",
        default="warning",
        choices=_LOG_LEVELS,
        help="log lines on stderr from this level (default warning)",
    )
    return parser


def _launcher_pid() -> int | None:
    """The editor launcher's pid, which it sets for us (packaging/editor): watched like --parent-pid."""
    value = os.environ.get("NOODL_SIDECAR_LAUNCHER_PID", "")
    return int(value) if value.isdigit() else None


def _serve(parsed: argparse.Namespace) -> int:
    from sidecar import preload

    preload.hold_collector()  # until the services are imported (sidecar.preload)
    import asyncio

    from sidecar import logs
    from sidecar.errors import SidecarError
    from sidecar.product_stream import claim_stdout
    from sidecar.serve_main import ServeConfig, serve

    product = claim_stdout()
    logs.configure(parsed.log_level)
    data_dir: Path = parsed.data_dir.resolve()
    config = ServeConfig(
        data_dir=data_dir,
        port=parsed.port,
        host=parsed.host,
        token=parsed.token,
        backend_id=parsed.backend_id or data_dir.name,
        backend_name=parsed.backend_name or parsed.backend_id or data_dir.name,
        parent_pid=parsed.parent_pid,
        launcher_pid=_launcher_pid(),
        ephemeral=parsed.ephemeral,
        ready_stream=product,
        project_dir=parsed.project_dir.resolve() if parsed.project_dir is not None else None,
        database_url=parsed.database_url or os.environ.get("DATABASE_URL") or None,
    )
    try:
        code = asyncio.run(serve(config))
    except SidecarError as exc:
        code_name = (exc.data or {}).get("code") if isinstance(exc.data, dict) else None
        sys.stderr.write(
            f"noodl-sidecar serve: {exc.message}" + (f" ({code_name})" if code_name else "") + "\n"
        )
        code = 1
    logs.flush()
    sys.stderr.flush()
    # Leave at once, as `stdio` does: the backend is closed, and interpreter teardown (module
    # finalizers, worker threads) would only stretch the supervisor's 3 s grace and the 2 s in which
    # an orphaned backend must be gone.
    os._exit(code)


def _doctor(parsed: argparse.Namespace) -> int:
    import asyncio
    import json

    from sidecar import logs
    from sidecar.backends.doctor import check_persistence
    from sidecar.product_stream import claim_stdout

    product = claim_stdout()
    logs.configure(parsed.log_level)
    try:
        report = asyncio.run(check_persistence(parsed.data_dir.resolve(), ephemeral=parsed.ephemeral))
        product.write(json.dumps(report) + "\n")
        product.flush()
    finally:
        logs.flush()
    return 0 if report["ok"] else 1


def _stdio_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noodl-sidecar stdio",
        description="Speak msgpack-RPC on stdin/stdout (what the editor spawns); logs go to stderr.",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=_LOG_LEVELS,
        help="log lines on stderr from this level until initialize says otherwise (default info)",
    )
    parser.add_argument(
        "--parent-pid",
        type=int,
        default=_env_int("SIDECAR_PARENT_PID"),
        help="exit when this process dies (default: $SIDECAR_PARENT_PID)",
    )
    parser.add_argument(
        "--max-message-mib", type=float, default=64.0, help="largest message accepted or sent (default 64)"
    )
    return parser


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else None


def _stdio(
    argv: list[str],
    read_fd: int,
    write_fd: int,
    started: float,
    spawner_pid: int,
    stop_startup_watch: Callable[[], None],
) -> int:
    options = _stdio_parser().parse_args(argv)
    from sidecar import preload

    preload.hold_collector()  # until the services are imported (sidecar.preload)
    import asyncio

    from sidecar import logs

    logs.configure(options.log_level)
    from sidecar.stdio_main import StdioConfig, serve

    config = StdioConfig(
        read_fd=read_fd,
        write_fd=write_fd,
        max_message_bytes=int(options.max_message_mib * _MIB),
        parent_pid=options.parent_pid,
        import_ms=round((time.perf_counter() - started) * 1000, 2),
        spawner_pid=spawner_pid,
    )
    # Not asyncio.run: at its end it waits for the default executor, where the service preload
    # may still be importing (a second or more under load), and the editor is waiting for us to go.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    stop_startup_watch()  # the transport, started in a few milliseconds, takes over
    try:
        code = loop.run_until_complete(serve(config))
    except Exception:  # logged, not lost: the log thread is flushed before the hard exit below
        import structlog

        structlog.get_logger("sidecar").exception("stdio_failed")
        code = 1
    logs.flush()
    # Leave at once: a worker thread stuck in a blocking call must not hold the exit.
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
