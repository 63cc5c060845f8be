"""The frozen onedir build as today's editor runs it: laid out under a resources folder beside the
launcher (``<resources>/nodegx-backend/{cli.js, noodl-sidecar/}``), driven by the Node contract test."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

# The build alone takes minutes on a loaded machine (PyInstaller analyses every dependency).
pytestmark = [pytest.mark.binary, pytest.mark.timeout(900)]


def test_the_onedir_binary_serves_every_editor_channel(tmp_path: Path) -> None:
    if shutil.which("node") is None or not (PROJECT_ROOT / "tests" / "js" / "node_modules").is_dir():
        pytest.skip("Node.js and tests/js's npm packages are needed: run scripts/test")
    built = subprocess.run(
        [str(PROJECT_ROOT / "scripts" / "build-binary")], capture_output=True, text=True, timeout=900
    )
    assert built.returncode == 0, built.stderr[-4000:]
    dist = PROJECT_ROOT / built.stdout.strip().splitlines()[-1]
    env = {**os.environ, "NOODL_SIDECAR_ONEDIR": str(dist.parent)}
    contract = subprocess.run(
        [
            "node",
            "--test",
            "--test-name-pattern",
            "onedir",
            str(PROJECT_ROOT / "tests" / "js" / "editor.test.mjs"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert contract.returncode == 0, contract.stdout[-6000:] + contract.stderr[-2000:]
    assert "# pass 1" in contract.stdout, contract.stdout[-3000:]
