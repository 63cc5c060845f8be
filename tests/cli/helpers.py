"""Running the command as users do: ``python -m sidecar …`` in a subprocess, from the repository."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import PROJECT_ROOT

SIDECAR = [sys.executable, "-m", "sidecar"]


def sidecar_env(home: Path) -> dict[str, str]:
    env = dict(os.environ, NOODL_HOME=str(home))
    env.pop("SIDECAR_PARENT_PID", None)
    env.pop("NOODL_SIDECAR_DIAGNOSTICS", None)
    return env


def run_sidecar(*args: str, timeout: float = 30, **options: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SIDECAR, *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **options,
    )


def log_records(stderr: str) -> list[dict[str, Any]]:
    """The JSON log lines of a run's stderr (other lines are skipped)."""
    records = []
    for line in stderr.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
