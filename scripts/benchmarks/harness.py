"""Run benchmark suites and write their figures as one JSON document.

Each module beside this file (except this one and ``_``-prefixed helpers) is a suite exposing
``run(quick: bool) -> dict``. Every suite runs in a fresh process, so one suite's heap (the
history suite builds a million-row database) never skews another's timings or memory. The
document goes to stdout and to ``bench-results/bench-<UTC time>.json``, with a description of
the machine, because figures only compare within one run on one machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))


def suites() -> dict[str, Path]:
    # Modules starting with "_" are helpers the suites run (servers, clients), not suites.
    return {
        path.stem: path
        for path in sorted(HERE.glob("*.py"))
        if path.stem != "harness" and not path.stem.startswith("_")
    }


def load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_isolated(name: str, quick: bool) -> dict[str, Any]:
    """Run one suite in a child process; its JSON figures, or ``{"error"}``."""
    argv = [sys.executable, __file__, "--suite-child", name] + (["--quick"] if quick else [])
    child = subprocess.run(argv, capture_output=True, text=True, check=False)
    sys.stderr.write(child.stderr)
    try:
        figures: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        figures = {"error": f"suite exited {child.returncode} without figures"}
    return figures


def suite_child(name: str, quick: bool) -> int:
    try:
        figures = load(name, suites()[name]).run(quick)
    except Exception as exc:  # one broken suite must not hide the others' figures
        figures = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(figures) + "\n")
    return 0


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_gib, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


def main() -> int:
    if sys.argv[1:2] == ["--suite-child"]:
        return suite_child(sys.argv[2], "--quick" in sys.argv)
    available = suites()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("suites", nargs="*", help=f"suites to run (default: all of {', '.join(available)})")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    args = parser.parse_args()
    unknown = set(args.suites) - set(available)
    if unknown:
        parser.error(f"unknown suite(s): {', '.join(sorted(unknown))}")
    results: dict[str, Any] = {}
    for name in args.suites or list(available):
        started = time.perf_counter()
        figures = run_isolated(name, args.quick)
        figures["suite_seconds"] = round(time.perf_counter() - started, 2)
        results[name] = figures
        sys.stderr.write(f"bench: {name} done in {figures['suite_seconds']} s\n")
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine(),
        "results": results,
    }
    text = json.dumps(document, indent=2)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"bench-{document['generated_at'].replace(':', '')}.json").write_text(text + "\n")
    sys.stdout.write(text + "\n")
    return 1 if any("error" in figures for figures in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
