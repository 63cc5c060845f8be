"""Start-up suite: what the editor waits for when it opens a project (issues #17 item 5, #18).

- ``launcher_ready``: the editor's supervisor runs ``packaging/editor/nodegx-backend/cli.js serve`` on a
  fresh data directory; spawn → the READY line (target ≤ 500 ms from source).
- ``stdio_cold_start``: spawn ``noodl-sidecar stdio`` → ``initialize`` answered → ``initialized`` →
  the first ``backend:start`` of an existing backend answered and its ``/health`` answering, with
  nothing in between (target ≤ 450 ms, from source and from the PyInstaller binary).

Each figure is the median of several fresh processes; ``sidecar_cpu_ms_median`` is the CPU time the
sidecar used until then, which a busy machine stretches far less than the wall time.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
CLIENT = ROOT / "tests" / "js" / "bench-startup.mjs"
LAUNCHER = ROOT / "packaging" / "editor" / "nodegx-backend" / "cli.js"
SOURCE = [str(ROOT / ".venv" / "bin" / "noodl-sidecar"), "stdio"]
BINARY = ROOT / "build" / "dist" / "noodl-sidecar" / "noodl-sidecar"


def node(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        ["node", str(CLIENT), *args], capture_output=True, text=True, timeout=900, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool) -> dict[str, Any]:
    runs = ["--runs", "3" if quick else "10"]
    figures: dict[str, Any] = {
        "targets": {"launcher_ready_ms": 500, "stdio_cold_start_ms": 450},
        "launcher_ready_source": node("launcher", str(LAUNCHER), *runs),
        "stdio_cold_start_source": node("stdio", json.dumps(SOURCE), *runs),
    }
    if not quick:
        subprocess.run([str(ROOT / "scripts" / "build-binary")], check=True, capture_output=True, timeout=900)
    if BINARY.exists():
        binary_env = json.dumps({"NOODL_SIDECAR_BIN": str(BINARY)})
        figures["launcher_ready_binary"] = node("launcher", str(LAUNCHER), *runs, "--env", binary_env)
        figures["stdio_cold_start_binary"] = node("stdio", json.dumps([str(BINARY), "stdio"]), *runs)
    return figures
