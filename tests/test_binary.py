"""The frozen onedir build speaks the same protocol as the source tree.

Builds with scripts/build-binary, copies the result under a path with a space and
non-ASCII letters, and runs the Node smoke test against it from another directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from tests.runtime.graphs import component, conn, export, node, request_node, response_node

# The build alone takes minutes on a loaded machine (PyInstaller analyses every dependency).
pytestmark = [pytest.mark.binary, pytest.mark.timeout(900)]


def test_the_onedir_binary_passes_the_protocol_smoke_test(tmp_path: Path) -> None:
    if shutil.which("node") is None or not (PROJECT_ROOT / "tests" / "js" / "node_modules").is_dir():
        pytest.skip("Node.js and tests/js's npm packages are needed: run scripts/test")
    built = subprocess.run(
        [str(PROJECT_ROOT / "scripts" / "build-binary")], capture_output=True, text=True, timeout=900
    )
    assert built.returncode == 0, built.stderr[-4000:]
    dist = PROJECT_ROOT / built.stdout.strip().splitlines()[-1]
    target = tmp_path / "Program Files ü" / "noodl-sidecar"
    shutil.copytree(dist.parent, target, symlinks=True)
    env = {
        **os.environ,
        "SIDECAR_COMMAND": json.dumps([str(target / "noodl-sidecar"), "stdio"]),
        "SIDECAR_EXPECT_FROZEN": "1",
    }
    smoke = subprocess.run(
        ["node", "--test", str(PROJECT_ROOT / "tests" / "js" / "smoke.test.mjs")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert smoke.returncode == 0, smoke.stdout[-6000:] + smoke.stderr[-2000:]
    _runs_a_python_function(target / "noodl-sidecar", tmp_path)


def _runs_a_python_function(binary: Path, folder: Path) -> None:
    """The binary carries the Python worker: ``run`` answers through a Python Function, and a Python
    Template rendered by Jinja2 in the worker (the binary bundles what the worker imports)."""
    ports = [
        {"name": "out-x", "plug": "output", "type": "*"},
        {"name": "out-done", "plug": "output", "type": "signal"},
    ]
    script = "import asyncio\nawait asyncio.sleep(0)\noutputs['x'] = inputs['a'] * 2\nsend_signal('done')\n"
    fn = node("fn", "PythonFunction", {"script": script}, ports=ports)
    template = node("tpl", "PythonTemplate", {"expression": "x is {{ x }}"})
    connections = [
        conn("req", "pm-a", "fn", "in-a"),
        conn("req", "receive", "fn", "run"),
        conn("fn", "out-x", "resp", "pm-x"),
        conn("fn", "out-x", "tpl", "x"),
        conn("tpl", "text", "resp", "pm-text"),
        conn("tpl", "done", "resp", "send"),
    ]
    nodes = [request_node(), fn, template, response_node()]
    export_file = folder / "python.export.json"
    export_file.write_text(
        json.dumps(export(component("f", nodes, connections), metadata={"language": "python"}))
    )
    ran = subprocess.run(
        [str(binary), "run", str(export_file), "f", "--body", '{"a": 21}'],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr[-4000:]
    answered = json.loads(ran.stdout)
    assert answered["statusCode"] == 200
    assert json.loads(answered["body"]) == {"result": {"x": 42, "text": "x is 42"}}
