"""``noodl-sidecar serve`` as the editor's supervisor runs it: a subprocess with stdin closed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT

READY = "NODEGX_BACKEND_READY "


class Served:
    def __init__(self, process: subprocess.Popen[str], ready: dict[str, Any], data_dir: Path) -> None:
        self.process = process
        self.ready = ready
        self.data_dir = data_dir

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.ready['port']}"

    def token(self) -> str:
        token: str = json.loads((self.data_dir / "secrets.json").read_text())["adminToken"]
        return token


def start(data_dir: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "sidecar", "serve", "--data-dir", str(data_dir), *args],
        cwd=PROJECT_ROOT,
        stdin=subprocess.DEVNULL,  # the supervisor ignores stdin: EOF from the start must not stop us
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, process.stdout.readline()


def finish(process: subprocess.Popen[str], timeout: float = 10) -> tuple[int, str]:
    """Wait for (or end) the process, close its pipes, return its exit code and stderr."""
    try:
        _out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _out, err = process.communicate()
    return process.returncode, err


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    data_dir = tmp_path / "backend_test1"
    process, line = start(data_dir, "--backend-id", "backend_test1", "--backend-name", "Test")
    assert line.startswith(READY), line + (process.stderr.read() if process.stderr else "")
    yield Served(process, json.loads(line[len(READY) :]), data_dir)
    process.kill()
    finish(process)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_ready_line_has_the_contract_shape(served: Served) -> None:
    assert set(served.ready) == {"port", "url", "persistence", "engine"}
    assert served.ready["url"] == f"http://127.0.0.1:{served.ready['port']}"
    assert served.ready["persistence"] == "persistent"
    assert served.ready["engine"] == "sqlite3"
    status, health = get(served.base + "/health")
    assert status == 200
    assert health["backendId"] == "backend_test1"
    assert health["persistence"]["mode"] == "persistent"


def test_stdin_at_eof_does_not_stop_serve(served: Served) -> None:
    time.sleep(0.5)
    assert served.process.poll() is None
    assert get(served.base + "/health")[0] == 200


def test_stdout_carries_the_ready_line_and_nothing_else(tmp_path: Path) -> None:
    process, line = start(tmp_path / "b", "--log-level", "debug")
    assert line.startswith(READY)
    assert get(json.loads(line[len(READY) :])["url"] + "/health")[0] == 200  # work that logs
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=10)
    assert out == ""
    assert "stopping" in err


def test_sigterm_stops_within_three_seconds(served: Served) -> None:
    started = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    code, _err = finish(served.process, timeout=3)
    assert code == 0
    assert time.monotonic() - started < 3


def test_parent_death_drains_and_exits(tmp_path: Path) -> None:
    stand_in = subprocess.Popen(["sleep", "60"])
    process, line = start(tmp_path / "d", "--parent-pid", str(stand_in.pid))
    assert line.startswith(READY)
    stand_in.kill()
    stand_in.wait()
    assert finish(process, timeout=3)[0] == 0


def test_non_loopback_host_without_token_is_refused(tmp_path: Path) -> None:
    process, line = start(tmp_path / "d", "--host", "0.0.0.0")
    code, err = finish(process)
    assert line == ""
    assert code == 1
    assert "refusing to bind 0.0.0.0 without an admin token" in err


def test_admin_routes_refuse_a_wrong_token(served: Served) -> None:
    status, _body = get(
        served.base + "/schemas", {"X-Parse-Application-Id": "backend_test1", "X-Parse-Master-Key": "wrong"}
    )
    assert status == 401
    status, _ = get(
        served.base + "/schemas",
        {"X-Parse-Application-Id": "backend_test1", "X-Parse-Master-Key": served.token()},
    )
    assert status == 200


def test_a_port_in_use_is_a_clear_error(served: Served, tmp_path: Path) -> None:
    process, line = start(tmp_path / "other", "--port", str(served.ready["port"]))
    code, err = finish(process)
    assert line == ""
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{served.ready['port']}" in err


def test_ephemeral_serves_from_memory(tmp_path: Path) -> None:
    process, line = start(tmp_path / "e", "--ephemeral")
    process.kill()
    finish(process)
    assert json.loads(line[len(READY) :])["persistence"] == "ephemeral"
    assert not (tmp_path / "e" / "data" / "local.db").exists()


def test_doctor_checks_persistence_without_binding(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sidecar", "doctor", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["persistence"]["mode"] == "persistent"


def test_doctor_reports_an_unusable_database(tmp_path: Path) -> None:
    (tmp_path / "d" / "data").mkdir(parents=True)
    (tmp_path / "d" / "data" / "local.db").write_bytes(b"this is not a database" * 100)
    result = subprocess.run(
        [sys.executable, "-m", "sidecar", "doctor", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=30,
        env={**os.environ},
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["code"] == "PERSISTENCE_ENGINE_UNAVAILABLE"
