"""``scripts/demo --deploy`` and ``scripts/bench deploy``: the demo backend goes through the whole flow
against the local Fly contract server in under a minute and its function answers through the app."""

from __future__ import annotations

import importlib.util
import subprocess
from types import ModuleType
from typing import Any

from tests.conftest import PROJECT_ROOT


def load_suite() -> ModuleType:
    path = PROJECT_ROOT / "scripts" / "benchmarks" / "deploy.py"
    spec = importlib.util.spec_from_file_location("bench_deploy", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_deploy_suite_reports_stage_times_within_a_minute() -> None:
    figures: dict[str, Any] = load_suite().run(quick=True)
    assert figures["function_status"] == 200
    assert set(figures["stages_s"]) == {"validate", "build", "push", "release", "health", "record"}
    assert 0 < figures["whole_flow_s"] < figures["targets"]["whole_flow_s"]


def test_the_demo_deploys_and_calls_the_deployed_function() -> None:
    done = subprocess.run(
        [str(PROJECT_ROOT / ".venv" / "bin" / "python"), "scripts/benchmarks/_deploy_demo.py"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "is live at" in done.stderr
    assert '"message": "Hello Ada' in done.stderr
    assert done.stdout == ""
