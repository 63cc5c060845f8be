"""What other local users and later readers can see: owner-only files, and no secret in history or logs.

``local.db`` holds session tokens and ``executions.sqlite`` recorded requests, so a backend's folders are
0700 and those files 0600 whatever the umask, and looser modes left by an older version are tightened
when the backend starts. A real ``serve`` process shows it end to end: a call carrying secrets leaves
none in its history (as stored, as served by ``/executions``) or in the log lines on stderr.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sidecar import logs
from sidecar.backends.backend import Backend, BackendSpec
from sidecar.backends.registry import BackendRegistry, read_admin_token
from tests.conftest import PROJECT_ROOT
from tests.history.graphs import condition_then_function
from tests.history.test_secret_formats import JWT, WHOLE

READY = "NODEGX_BACKEND_READY "
BACKEND_ID = "backend_sec2"
JSON = {"Content-Type": "application/json"}
PRIVATE_FILES = (
    "data/local.db",
    "data/local.db-wal",
    "data/local.db-shm",
    "executions.sqlite",
    "executions.sqlite-wal",
    "executions.sqlite-shm",
    "secrets.json",
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask: every mode below must come from the code, not from the environment."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("open_umask")
async def test_a_created_backend_is_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    registry = BackendRegistry(tmp_path / "backends")
    config = registry.create("Private")
    data_dir = registry.data_dir(config.id)
    token = read_admin_token(data_dir)
    assert token is not None
    backend = Backend(BackendSpec(data_dir=data_dir, backend_id=config.id, name="Private", admin_token=token))
    await backend.start()
    try:
        for folder in (data_dir, data_dir / "data", data_dir / "files", data_dir / "workflows"):
            assert mode(folder) == 0o700, folder
        for name in PRIVATE_FILES:
            assert mode(data_dir / name) == 0o600, name
    finally:
        await backend.stop()


async def test_an_existing_backend_with_loose_modes_is_tightened_when_it_starts(tmp_path: Path) -> None:
    data_dir = tmp_path / "backend_old1"
    spec = BackendSpec(data_dir=data_dir, backend_id="backend_old1", name="Old", admin_token="t" * 32)
    first = Backend(spec)
    await first.start()
    await first.stop()
    # As an older version (or a umask of 022) left them; SQLite leaves -wal/-shm behind on some exits.
    for name in ("executions.sqlite-wal", "data/local.db-wal"):
        (data_dir / name).touch()
    for folder in (data_dir, data_dir / "data"):
        folder.chmod(0o755)
    for name in ("data/local.db", "data/local.db-wal", "executions.sqlite", "executions.sqlite-wal"):
        (data_dir / name).chmod(0o644)

    again = Backend(spec)
    await again.start()
    try:
        assert mode(data_dir) == mode(data_dir / "data") == 0o700
        for name in ("data/local.db", "data/local.db-wal", "executions.sqlite", "executions.sqlite-wal"):
            assert mode(data_dir / name) == 0o600, name
    finally:
        await again.stop()


def test_log_fields_nested_values_and_exceptions_lose_their_secrets() -> None:
    github = WHOLE["github"][0]
    plain = {"path": "/functions/greet", "status": 504}
    record = {
        "event": f"calling https://ada:hunter2@api.test with {github}",
        "headers": {"x-trace": f"trace {JWT}", "accept": "json"},
        "attempts": [1, f"retry with {github}"],
        "error": ValueError(f"refused {github}"),
        "plain": plain,
    }

    cleaned = logs.hide_secrets(None, "info", record)

    assert cleaned["event"] == "calling https://ada:[REDACTED:password]@api.test with [REDACTED:github]"
    assert cleaned["headers"] == {"x-trace": "trace [REDACTED:jwt]", "accept": "json"}
    assert cleaned["attempts"] == [1, "retry with [REDACTED:github]"]
    assert cleaned["error"] == "ValueError('refused [REDACTED:github]')"
    assert cleaned["plain"] is plain  # nothing to hide: not copied


# ---- a real serve process -----------------------------------------------------------------------------


class Served:
    def __init__(self, process: subprocess.Popen[str], port: int, data_dir: Path) -> None:
        self.process = process
        self.base = f"http://127.0.0.1:{port}"
        self.data_dir = data_dir
        self.admin = {"Authorization": f"Bearer {read_admin_token(data_dir)}"}
        self.app = {"X-Parse-Application-Id": BACKEND_ID}

    def call(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def stop(self) -> str:
        """SIGTERM, wait for the exit, and hand back everything the process wrote on stderr."""
        self.process.send_signal(signal.SIGTERM)
        _out, err = self.process.communicate(timeout=10)
        return err


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    data_dir = tmp_path / "not-yet-there" / "backend_sec2"
    process = subprocess.Popen(
        [sys.executable, "-m", "sidecar", "serve", "--data-dir", str(data_dir), "--backend-id", BACKEND_ID],
        cwd=PROJECT_ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        umask=0,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith(READY):
        process.kill()
        pytest.fail(line + process.communicate()[1])
    yield Served(process, json.loads(line[len(READY) :])["port"], data_dir)
    if process.poll() is None:
        process.kill()
        process.communicate()


def test_serve_makes_its_data_dir_and_databases_owner_only_under_an_open_umask(served: Served) -> None:
    status, upload = served.call("POST", "/files/notes.txt", b"private notes", served.app)
    assert status == 201, upload

    assert mode(served.data_dir) == 0o700
    assert mode(served.data_dir / "files") == 0o700
    assert mode(served.data_dir / "files" / upload["name"]) == 0o600
    for name in PRIVATE_FILES:
        assert mode(served.data_dir / name) == 0o600, name


def test_a_call_carrying_secrets_leaves_none_in_history_or_logs(served: Served) -> None:
    stripe, github = WHOLE["stripe"][0], WHOLE["github"][0]
    script = "throw new Error('payment provider refused ' + Inputs.name);"
    deployed = served.call(
        "PUT",
        "/admin/workflows/greet",
        json.dumps(condition_then_function(script)).encode(),
        served.admin | JSON,
    )
    assert (deployed[0], deployed[1]["success"]) == (200, True)
    # A script that throws sends no response: the run ends at its time limit, kept short here.
    policy = {"version": 1, "functions": {"greet": {"timeoutMs": 300}}}
    permissions = json.dumps(policy).encode()
    status, answer = served.call("PUT", "/admin/permissions", permissions, served.admin | JSON)
    assert status == 200, answer
    body = {"flag": True, "name": f"key {stripe} / token {github}", "stripe_key": stripe, "memo": f"on {JWT}"}

    status, answer = served.call("POST", "/functions/greet", json.dumps(body).encode(), served.app | JSON)
    assert status == 504  # the script threw, naming the key in its error
    detail = _recorded_execution(served)
    logs = served.stop()

    assert detail["triggerData"]["body"]["stripe_key"] == "[REDACTED]"
    assert detail["triggerData"]["body"]["name"] == "key [REDACTED:stripe] / token [REDACTED:github]"
    assert detail["triggerData"]["body"]["memo"] == "on [REDACTED:jwt]"
    failed = next(step for step in detail["steps"] if step["nodeId"] == "fn-3")
    assert "payment provider refused key [REDACTED:stripe]" in failed["errorMessage"]
    logged = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    script_errors = [entry for entry in logged if entry.get("event") == "Error in JS node run code."]
    assert script_errors, logs[-2000:]
    assert "payment provider refused key [REDACTED:stripe]" in script_errors[0]["error"]
    stored = b"".join(p.read_bytes() for p in served.data_dir.glob("executions.sqlite*"))
    for secret in (stripe, github, JWT):
        assert secret not in json.dumps(detail)
        assert secret not in logs
        assert secret.encode() not in stored


def _recorded_execution(served: Served) -> dict[str, Any]:
    """The call's execution as ``/executions`` serves it, once the history writer has stored it."""
    deadline = time.monotonic() + 10
    while True:
        status, rows = served.call("GET", "/executions?workflowId=greet", headers=served.admin)
        if status == 200 and rows and rows[0]["status"] != "running":
            break
        assert time.monotonic() < deadline, rows
        time.sleep(0.05)
    status, detail = served.call("GET", f"/executions/{rows[0]['id']}", headers=served.admin)
    assert status == 200
    assert isinstance(detail, dict)
    return detail
