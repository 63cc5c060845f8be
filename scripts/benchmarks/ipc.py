"""IPC suite: $/ping and a validated echo method vs a bare echo over the same transport, and cold start."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
CLIENT = ROOT / "tests" / "js" / "bench-ipc.mjs"
SOURCE = [str(ROOT / ".venv" / "bin" / "noodl-sidecar"), "stdio"]
BARE = [sys.executable, str(ROOT / "scripts" / "benchmarks" / "_bare_echo_server.py")]
BINARY = ROOT / "build" / "dist" / "noodl-sidecar" / "noodl-sidecar"


def node(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        ["node", str(CLIENT), *args], capture_output=True, text=True, timeout=900, check=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool) -> dict[str, Any]:
    sizes = ["--warmup", "200", "--sequential", "1000", "--total", "5000"] if quick else []
    runs = ["--runs", "3" if quick else "10"]
    ping = node("latency", json.dumps(SOURCE), "$/ping", *sizes)
    bare = node("latency", json.dumps(BARE), "$/ping", "--no-initialize", *sizes)
    echo = node("latency", json.dumps(SOURCE), "diagnostics:echo", *sizes)
    figures: dict[str, Any] = {
        "ping": ping,
        "bare_echo": bare,
        "echo_method": echo,
        "ping_throughput_vs_bare": round(
            ping["calls_per_s_100_in_flight"] / bare["calls_per_s_100_in_flight"], 3
        ),
        "targets": {
            "ping_p50_us": 150,
            "calls_per_s": 30000,
            "vs_bare": 0.5,
            "cold_start_source_ms": 300,
            "cold_start_binary_ms": 400,
        },
        "cold_start_source": node("coldstart", json.dumps(SOURCE), *runs),
    }
    if not quick:
        subprocess.run([str(ROOT / "scripts" / "build-binary")], check=True, capture_output=True, timeout=900)
    if BINARY.exists():
        figures["cold_start_binary"] = node("coldstart", json.dumps([str(BINARY), "stdio"]), *runs)
    return figures
