"""``serve`` watches a parent only when ``--parent-pid`` names one.

Started from a terminal (a shell that exits, ``nohup``), it used to notice being re-parented and
stop; a supervisor that wants it tied to its life passes ``--parent-pid``.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.cli.helpers import SIDECAR, sidecar_env
from tests.conftest import PROJECT_ROOT

READY = "NODEGX_BACKEND_READY "


def _wait_for(path: Path, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if text.endswith("\n"):
            return text
        time.sleep(0.05)
    raise AssertionError(f"nothing in {path} after {timeout} s")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", "rb") as stat:
        return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"


def _health(ready_line: str) -> int:
    url = json.loads(ready_line[len(READY) :])["url"] + "/health"
    with urllib.request.urlopen(url, timeout=5) as reply:
        status: int = reply.status
        return status


def _serve_from_a_shell(tmp_path: Path, *extra: str, prefix: tuple[str, ...] = ()) -> tuple[int, str]:
    """Start serve in the background of a shell that exits once it is ready; its pid and READY line."""
    command = shlex.join([*prefix, *SIDECAR, "serve", "--data-dir", str(tmp_path / "data"), *extra])
    out = tmp_path / "out"
    script = (
        f"{command} >{out} 2>{tmp_path / 'err'} </dev/null & echo $! >{tmp_path / 'pid'}; "
        f"while [ ! -s {out} ]; do sleep 0.05; done"  # the terminal closes while serve is running
    )
    subprocess.run(["sh", "-c", script], cwd=PROJECT_ROOT, env=sidecar_env(tmp_path), check=True, timeout=60)
    pid = int(_wait_for(tmp_path / "pid"))
    return pid, _wait_for(tmp_path / "out")


def test_serve_outlives_the_shell_that_started_it(tmp_path: Path) -> None:
    pid, ready = _serve_from_a_shell(tmp_path)
    try:
        assert ready.startswith(READY)
        time.sleep(1.0)  # several parent-watch periods after the shell is gone
        assert _alive(pid), (tmp_path / "err").read_text()[-2000:]
        assert _health(ready) == 200
    finally:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_serve_with_parent_pid_of_the_shell_stops_when_it_exits(tmp_path: Path) -> None:
    stand_in = subprocess.Popen(["sleep", "30"])
    pid, ready = _serve_from_a_shell(tmp_path, "--parent-pid", str(stand_in.pid))
    assert ready.startswith(READY)
    stand_in.kill()
    stand_in.wait()
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(pid), "serve outlived the process named by --parent-pid"
    assert f"parent process {stand_in.pid} is gone" in (tmp_path / "err").read_text()


def test_sighup_drains_and_exits_unless_ignored(tmp_path: Path) -> None:
    pid, ready = _serve_from_a_shell(tmp_path)
    assert ready.startswith(READY)
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(pid)
    assert '"reason": "SIGHUP"' in (tmp_path / "err").read_text()


def test_under_nohup_sighup_is_left_ignored(tmp_path: Path) -> None:
    pid, ready = _serve_from_a_shell(tmp_path, prefix=("nohup",))
    try:
        assert ready.startswith(READY)
        os.kill(pid, signal.SIGHUP)
        time.sleep(0.5)
        assert _alive(pid)
        assert _health(ready) == 200
    finally:
        os.kill(pid, signal.SIGTERM)
