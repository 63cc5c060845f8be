"""A real `noodl-sidecar serve` backend on loopback and `wrk` load against one of its functions.

Shared by the suites that measure functions over HTTP; the load generator runs in its own process.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
READY = "NODEGX_BACKEND_READY "

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Parse-Application-Id"] = "%s"
"""


@dataclass(frozen=True)
class Backend:
    port: int
    backend_id: str
    admin_token: str

    def deploy(self, name: str, export: dict[str, Any]) -> str:
        """Deploy ``export`` as workflow ``name``; returns the URL of function ``name``."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/admin/workflows/{name}",
            data=json.dumps(export).encode(),
            method="PUT",
            headers={"Authorization": f"Bearer {self.admin_token}", "Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=10).read()
        return f"http://127.0.0.1:{self.port}/functions/{name}"


def wrk_missing() -> bool:
    return shutil.which("wrk") is None


@contextlib.contextmanager
def serve(data_dir: Path, *, ephemeral: bool = False) -> Iterator[Backend]:
    """One backend in its own process (``--ephemeral``: in memory, no execution history)."""
    backend_id = data_dir.name
    command = [sys.executable, "-m", "sidecar", "serve", "--data-dir", str(data_dir)]
    command += ["--log-level", "warning"]
    if ephemeral:
        command.append("--ephemeral")
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        port = json.loads(line[len(READY) :])["port"]
        token = json.loads((data_dir / "secrets.json").read_text())["adminToken"]
        yield Backend(port, backend_id, token)
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()


def _percentile(text: str, label: str) -> float | None:
    match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if match is None:
        return None
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
    return round(float(match.group(1)) * scale, 3)


def wrk(url: str, backend: Backend, body: str, seconds: int, clients: int, work: Path) -> dict[str, Any]:
    """POST ``body`` to ``url`` from ``clients`` connections for ``seconds``."""
    script = work / "post.lua"
    script.write_text(WRK_SCRIPT % (body, backend.backend_id))
    out = subprocess.run(
        ["wrk", f"-t{min(2, clients)}", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "clients": clients,
        "calls_per_s": round(float(rate.group(1))) if rate else None,
        "p50_ms": _percentile(out, "50"),
        "p99_ms": _percentile(out, "99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }
