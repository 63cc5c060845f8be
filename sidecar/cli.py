"""The ``noodl-sidecar`` command line.

``stdio`` is what the editor spawns: the protocol owns stdin/stdout, logs go to
stderr. Its descriptors are claimed before anything else is imported, and heavy
modules load after that, so start-up stays short (ipc-stdio.md §10.4).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

_MIB = 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["stdio"]:
        from sidecar.ipc.stdout_guard import claim_stdio

        read_fd, write_fd = claim_stdio()
        return _stdio(args[1:], read_fd, write_fd, started)
    parser = _parser()
    parsed = parser.parse_args(args)
    if parsed.command is None:
        parser.print_help(sys.stderr)
        return 2
    return 0  # pragma: no cover - every command returns from its own branch


def _parser() -> argparse.ArgumentParser:
    from sidecar import __version__

    parser = argparse.ArgumentParser(
        prog="noodl-sidecar", description="Local backend for the OpenNoodl editor."
    )
    parser.add_argument("--version", action="version", version=f"noodl-sidecar {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("stdio", help="speak msgpack-RPC on stdin/stdout (what the editor spawns)")
    return parser


def _stdio_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="noodl-sidecar stdio")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error", "critical"]
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


def _stdio(argv: list[str], read_fd: int, write_fd: int, started: float) -> int:
    options = _stdio_parser().parse_args(argv)
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
    )
    code = asyncio.run(serve(config))
    logs.flush()
    # Leave at once: a worker thread stuck in a blocking call must not hold the exit.
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
