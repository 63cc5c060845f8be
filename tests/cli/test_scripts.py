"""The scripts a newcomer runs: setup is quick and says what it does; the Node tests report per test."""

from __future__ import annotations

import importlib.util
import subprocess
import time
from pathlib import Path

from tests.conftest import PROJECT_ROOT


def _setup() -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    done = subprocess.run(
        ["scripts/setup", "--dev"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    return time.monotonic() - started, done


def test_setup_returns_within_two_seconds_when_nothing_needs_installing() -> None:
    _setup()  # installs whatever a stale stamp asks for (nothing, after scripts/test's own setup)

    seconds, done = _setup()

    assert done.returncode == 0, done.stderr
    assert seconds < 2.0, f"setup took {seconds:.1f} s with nothing to install"
    lines = done.stderr.splitlines()
    assert any("Python packages up to date" in line for line in lines)
    assert any("npm packages up to date" in line for line in lines)
    assert all(line.startswith("scripts/setup: ") for line in lines), lines
    assert done.stdout == ""


def test_the_node_test_step_reports_each_test_and_the_counts() -> None:
    script = (PROJECT_ROOT / "scripts" / "test").read_text()
    [node_step] = [line for line in script.splitlines() if line.startswith("node --test")]
    command = [*node_step.split()[:-1], "tests/js/smoke.test.mjs"]

    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "✔" in done.stdout  # one line per passing test, with its name
    for count in ("tests", "pass", "fail"):
        assert f"\N{INFORMATION SOURCE} {count} " in done.stdout


def test_setup_leaves_the_sources_compiled() -> None:
    """An editable install has no bytecode, and with PYTHONDONTWRITEBYTECODE Python would compile every
    module at every start of the program."""
    _setup()
    sources = [*(PROJECT_ROOT / "sidecar").rglob("*.py"), *(PROJECT_ROOT / "ipc_schema").rglob("*.py")]
    compiled = [Path(importlib.util.cache_from_source(str(path))) for path in sources]
    missing = [str(path) for path in compiled if not path.is_file()]
    assert missing == []
