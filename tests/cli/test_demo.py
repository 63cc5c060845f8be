"""``scripts/demo --serve``: the commands it invites the user to try work exactly as printed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

from tests.cli.helpers import sidecar_env
from tests.conftest import PROJECT_ROOT

SERVING = "serving until Ctrl-C"


def test_the_printed_commands_work_as_printed_while_the_demo_serves(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        ["scripts/demo", "--serve"],
        cwd=PROJECT_ROOT,
        env=sidecar_env(tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert demo.stdout is not None
    printed: list[str] = []
    try:
        for line in demo.stdout:
            printed.append(line.rstrip("\n"))
            if line.strip() == SERVING:
                break
        assert printed, demo.stderr.read() if demo.stderr else ""
        assert printed[-1] == SERVING, "\n".join(printed)
        commands = [line.strip() for line in printed if line.strip().startswith("curl ")]
        assert len(commands) == 2

        outputs = [
            subprocess.run(["sh", "-c", line], capture_output=True, text=True, timeout=30, check=True).stdout
            for line in commands
        ]
        hello, todos = (json.loads(output) for output in outputs)
        assert "error" not in hello
        assert "you" in json.dumps(hello), hello
        assert sorted(todo["title"] for todo in todos["results"]) == [
            "Deploy it",
            "Draw a cloud function",
            "Try the sidecar",
        ]
        assert demo.poll() is None, "the demo keeps serving after printing the invitation"
    finally:
        if demo.poll() is None:
            os.kill(demo.pid, signal.SIGINT)
        rest, _err = demo.communicate(timeout=30)
    assert demo.returncode == 0
    assert "shutdown → exit code 0" in rest


def test_without_serve_the_demo_prints_no_commands_for_a_backend_it_stops(tmp_path: Path) -> None:
    done = subprocess.run(
        ["scripts/demo"],
        cwd=PROJECT_ROOT,
        env=sidecar_env(tmp_path),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "curl " not in done.stdout
    assert "scripts/demo --serve" in done.stdout
    assert "the application id is the backend id" in done.stdout
    assert "the master key is the admin token" in done.stdout
