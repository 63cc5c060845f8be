"""PostgreSQL against SQLite in the same run: create and get-by-id over HTTP at 20 concurrent clients,
one server process each, on a throwaway PostgreSQL cluster (``scripts/pg-test-server``, fsync off as in the
tests: the figure is the store's and the door's cost, not the disk's). Parse Server's figures on this
machine, for comparison: 1,044-1,834 get/s, 1,662-1,804 creates/s.

The servers and the load generator are the ``web`` suite's (``web.py --serve DIR ROWS [DATABASE_URL]``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PG_SERVER = ROOT / "scripts" / "pg-test-server"
KINDS = ("create", "get")
CLIENTS = 20


def _web() -> Any:
    spec = importlib.util.spec_from_file_location("bench_web_for_postgres", HERE / "web.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _backend_figures(web: Any, work: Path, rows: int, seconds: int, url: str | None) -> dict[str, Any]:
    command = [sys.executable, str(HERE / "web.py"), "--serve", str(work), str(rows)] + ([url] if url else [])
    server = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    try:
        assert server.stdout is not None
        ready = json.loads(server.stdout.readline())
        return {
            f"{kind}_c{CLIENTS}": web._measure(ready["port"], kind, ready["ids"], CLIENTS, seconds, work)
            for kind in KINDS
        }
    finally:
        server.communicate(b"", timeout=60)


def run(quick: bool) -> dict[str, object]:
    rows, seconds = (1_000, 1) if quick else (10_000, 5)
    started = subprocess.run(
        [str(PG_SERVER), "start"], capture_output=True, text=True, check=True, timeout=600
    )
    url, cluster = started.stdout.split()
    web = _web()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-pg-") as temporary:
            work = Path(temporary)
            (work / "sqlite").mkdir()
            (work / "postgres").mkdir()
            figures: dict[str, object] = {
                "rows": rows,
                "seconds_per_run": seconds,
                "sqlite": _backend_figures(web, work / "sqlite", rows, seconds, None),
                "postgres": _backend_figures(web, work / "postgres", rows, seconds, url),
                "parse_server_reference": {"get_per_s": [1044, 1834], "create_per_s": [1662, 1804]},
            }
            return figures
    finally:
        subprocess.run([str(PG_SERVER), "stop", cluster], capture_output=True, check=False, timeout=120)


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run(quick="--quick" in sys.argv), indent=2) + "\n")
