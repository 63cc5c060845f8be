"""Backend-manager suite: backend:start → healthy HTTP port, and memory per idle backend."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
CLIENT = ROOT / "tests" / "js" / "bench-backends.mjs"
SOURCE = [str(ROOT / ".venv" / "bin" / "noodl-sidecar"), "stdio"]


def run(quick: bool) -> dict[str, Any]:
    count = "3" if quick else "10"
    out = subprocess.run(
        ["node", str(CLIENT), json.dumps(SOURCE), "--backends", count],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    figures: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    figures["targets"] = {"start_to_healthy_ms": 150, "rss_mib_per_backend_beyond_first": 15}
    return figures
