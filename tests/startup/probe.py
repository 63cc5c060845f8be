"""Run by ``test_lazy_subsystems.py`` in a fresh interpreter: ``serve`` a data directory as the command
does, then print (JSON, one line) which modules were loaded at READY, after ordinary requests
(health, a record created and read back), and after a scrape of ``/metrics``; then stop it.

    python -m tests.startup.probe DATA_DIR
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sys
import urllib.request
from pathlib import Path
from typing import Any

from sidecar import logs
from sidecar.serve_main import READY_PREFIX, ServeConfig, serve

TOKEN = "probe-admin-token-0123456789abcdef"
BACKEND_ID = "probe"


def call(port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> int:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
        return int(response.status)


async def probe(port: int) -> dict[str, list[str]]:
    loaded = {"ready": sorted(sys.modules)}
    parse = {"X-Parse-Application-Id": BACKEND_ID}
    assert await asyncio.to_thread(call, port, "GET", "/health") == 200
    assert await asyncio.to_thread(call, port, "POST", "/classes/Thing", {"n": 1}, parse) == 201
    query = "/classes/Thing?where=%7B%22n%22%3A1%7D"
    assert await asyncio.to_thread(call, port, "GET", query, None, parse) == 200
    loaded["used"] = sorted(sys.modules)
    scrape = {"Authorization": f"Bearer {TOKEN}"}
    assert await asyncio.to_thread(call, port, "GET", "/metrics", None, scrape) == 200
    loaded["scraped"] = sorted(sys.modules)
    return loaded


class ReadyLine(io.StringIO):
    """Stands in for stdout's READY line: runs the probe once the port is known, then stops ``serve``."""

    def write(self, text: str) -> int:
        if text.startswith(READY_PREFIX):
            port = json.loads(text[len(READY_PREFIX) :])["port"]
            asyncio.get_running_loop().create_task(self._probe_then_stop(port))
        return len(text)

    async def _probe_then_stop(self, port: int) -> None:
        try:
            print(json.dumps(await probe(port)), flush=True)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)


def main() -> int:
    logs.configure("warning")  # log lines to stderr, as the command has them
    config = ServeConfig(
        data_dir=Path(sys.argv[1]),
        port=0,
        host="127.0.0.1",
        token=TOKEN,
        backend_id=BACKEND_ID,
        backend_name="Probe",
        parent_pid=None,
        ephemeral=False,
        ready_stream=ReadyLine(),
    )
    return asyncio.run(serve(config))


if __name__ == "__main__":
    sys.exit(main())
