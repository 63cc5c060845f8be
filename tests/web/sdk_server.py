"""Test-only launcher: a store in a temporary directory served by the HTTP door on a loopback port.

Prints one JSON line on stdout — ``{"port", "appId", "masterKey", "mount", "dataDir"}`` — once the
server listens, then serves until SIGTERM/SIGINT or stdin closing (so a crashed Node test run cannot
leave it behind). Used by ``tests/js/parse/*.test.mjs`` and by the web bench.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from sidecar.errors import FunctionNotFoundError
from sidecar.runtime.runtime import Runtime, make_request
from sidecar.store import SqliteRecordStore
from sidecar.web import FunctionRequest, WebSettings, build_app, start_server


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mount", default="/parse")
    parser.add_argument("--session-seconds", type=float, default=365 * 24 * 3600.0)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: a fresh temporary directory")
    parser.add_argument("--export", type=Path, default=None, help="a cloud-function deploy export to serve")
    return parser.parse_args(argv)


class ExportInvoker:
    """Serves the functions of one export through the graph runtime (the lead's backend composition
    does this for real; this launcher only needs the wire path)."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def invoke(self, name: str, request: FunctionRequest) -> tuple[int, str]:
        if not self._runtime.has_function(name):
            raise FunctionNotFoundError(name)
        response = await self._runtime.run(name, make_request(request.body, request.headers))
        return response.status_code, response.body


def load_invoker(path: Path | None) -> ExportInvoker | None:
    if path is None:
        return None
    return ExportInvoker(Runtime.from_export(json.loads(path.read_text("utf-8"))))


async def serve(args: argparse.Namespace, data_dir: Path) -> None:
    store = await SqliteRecordStore.open(
        data_dir / "data" / "local.db", session_lifetime=timedelta(seconds=args.session_seconds)
    )
    settings = WebSettings(
        app_id="backend_" + secrets.token_hex(4),
        master_key=secrets.token_urlsafe(24),
        mount=args.mount,
        files_dir=data_dir / "files",
        config_path=data_dir / "config-params.json",
    )
    server = await start_server(build_app(store, settings, load_invoker(args.export)), settings)
    ready = {
        "port": server.port,
        "appId": settings.app_id,
        "masterKey": settings.master_key,
        "mount": settings.mount,
        "dataDir": str(data_dir),
    }
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    try:
        await _until_stopped()
    finally:
        await server.stop()
        await store.close()


async def _until_stopped() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    stdin = sys.stdin.fileno()
    loop.add_reader(stdin, lambda: stop.set() if not os.read(stdin, 4096) else None)
    await stop.wait()


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    if args.data_dir is not None:
        asyncio.run(serve(args, args.data_dir))
        return
    with tempfile.TemporaryDirectory(prefix="sidecar-web-") as temporary:
        asyncio.run(serve(args, Path(temporary)))


if __name__ == "__main__":
    main(sys.argv[1:])
