"""The container build context: the Dockerfile checked as text, and its entry command run as the
container would run it (this machine has no container engine): same script, same environment."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sidecar.deploy.bundle import Bundle
from sidecar.deploy.context import BuildContext
from tests.deploy.conftest import BACKEND_ID, CREDENTIAL, MASTER_ONLY, PLANTED, WEBHOOK_SECRET, Prepared

NEW_TOKEN = "token-of-the-deployed-backend-0123456789"


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    joined = dockerfile.replace("\\\n", " ")
    lines = [
        line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")
    ]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_the_dockerfile_runs_serve_as_a_non_root_user_with_a_volume_and_a_healthcheck(
    context: tuple[Bundle, BuildContext],
) -> None:
    bundle, built = context
    steps = instructions(built.dockerfile.read_text())
    kinds = [kind for kind, _ in steps]
    assert kinds[0] == "ARG"
    assert steps[1] == ("FROM", "${BASE_IMAGE}")
    user = [value for kind, value in steps if kind == "USER"]
    assert user == ["10001:10001"]
    assert kinds.index("USER") > max(i for i, kind in enumerate(kinds) if kind == "RUN")  # root only to build
    assert ("VOLUME", '["/data"]') in steps
    assert ("STOPSIGNAL", "SIGTERM") in steps
    assert ("CMD", '["/app/bin/start"]') in steps
    assert kinds[-1] == "CMD"
    healthcheck = dict(steps)["HEALTHCHECK"]
    assert healthcheck.endswith('CMD ["/app/bin/healthcheck"]')
    for kind, value in steps:
        if kind == "COPY":
            source = shlex.split(value)[0]
            assert (built.folder / source).exists(), source
    assert bundle.hash in built.dockerfile.read_text()
    for name in ("start", "healthcheck"):
        assert os.access(built.folder / "bin" / name, os.X_OK)
    requirements = (built.folder / "src" / "requirements.txt").read_text().splitlines()
    assert any(line.startswith("aiohttp==") for line in requirements)
    assert any(line.startswith("cryptography==") for line in requirements)


def test_no_secret_byte_reaches_the_context(context: tuple[Bundle, BuildContext]) -> None:
    _bundle, built = context
    for path in built.folder.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            for secret in PLANTED:
                assert secret.encode() not in raw, (path, secret)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(built: BuildContext, data: Path, port: int, webhook_id: str) -> dict[str, str]:
    """What a deploy target would set, and a PATH whose python3 has the requirements installed."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("NOODL_", "PYTHONPATH"))}
    return env | {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PORT": str(port),
        "NOODL_HOST": "127.0.0.1",  # the image listens on 0.0.0.0; a test keeps to loopback
        "NOODL_DATA_DIR": str(data),
        "NOODL_ADMIN_TOKEN": NEW_TOKEN,
        "NOODL_CONFIG_APISECRET": MASTER_ONLY,
        "NOODL_WEBHOOK_SECRET_" + webhook_id.upper().replace("-", "_"): WEBHOOK_SECRET,
        "NOODL_CREDENTIAL_FLY": CREDENTIAL,
        "NOODL_CREDENTIALS_KEYRING": "0",
    }


class Started:
    def __init__(self, built: BuildContext, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.process = subprocess.Popen(
            [str(built.folder / "bin" / "start")],
            cwd=cwd,  # not the project: the context's own source must be enough
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.ready = self.process.stdout.readline()
        self.base = f"http://127.0.0.1:{env['PORT']}"

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        request = urllib.request.Request(self.base + path, headers=headers or {})
        with urllib.request.urlopen(request, timeout=5) as reply:
            return json.load(reply)

    def stop(self) -> tuple[int, float]:
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
        return self.process.returncode, time.monotonic() - started


@pytest.fixture
def running(context: tuple[Bundle, BuildContext], prepared: Prepared, tmp_path: Path) -> Iterator[Started]:
    _bundle, built = context
    env = _environment(built, tmp_path / "volume", _free_port(), prepared.webhook_id)
    started = Started(built, env, tmp_path)
    yield started
    if started.process.poll() is None:
        started.process.kill()
        started.process.communicate()


def _healthcheck(built: BuildContext, env: dict[str, str]) -> int:
    return subprocess.run(
        [str(built.folder / "bin" / "healthcheck")], env=env, timeout=15, check=False
    ).returncode


def test_the_entry_command_serves_the_bundle_and_drains_on_sigterm(
    context: tuple[Bundle, BuildContext], running: Started, prepared: Prepared
) -> None:
    bundle, built = context
    assert running.ready.startswith("NODEGX_BACKEND_READY "), running.process.stderr
    health = running.get("/health")
    assert health["ok"] is True
    assert health["backendId"] == BACKEND_ID
    assert health["bundle"]["hash"] == bundle.hash
    assert _healthcheck(built, running.env) == 0

    app = {"X-Parse-Application-Id": BACKEND_ID}
    request = urllib.request.Request(
        running.base + "/functions/hello",
        data=b'{"name": "Ada"}',
        headers={**app, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert json.load(reply)["result"]["message"].startswith("Hello Ada")
    config = running.get("/config", {**app, "X-Parse-Master-Key": NEW_TOKEN})
    assert config["params"] == {"greeting": "hi", "apiSecret": MASTER_ONLY}
    schema = running.get("/schemas/Todo", {**app, "X-Parse-Master-Key": NEW_TOKEN})
    assert schema["fields"]["title"] == {"type": "String"}
    volume = Path(running.env["NOODL_DATA_DIR"])
    assert json.loads((volume / "secrets.json").read_text())["webhooks"] == {
        prepared.webhook_id: WEBHOOK_SECRET
    }

    code, seconds = running.stop()
    assert code == 0
    assert seconds < 3.0
    assert _healthcheck(built, running.env) == 1


def test_a_missing_required_variable_stops_the_start_and_names_it(
    context: tuple[Bundle, BuildContext], prepared: Prepared, tmp_path: Path
) -> None:
    _bundle, built = context
    env = _environment(built, tmp_path / "volume", _free_port(), prepared.webhook_id)
    del env["NOODL_CONFIG_APISECRET"]
    done = subprocess.run(
        [str(built.folder / "bin" / "start")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "NOODL_CONFIG_APISECRET" in done.stderr
    assert not (tmp_path / "volume" / "workflows").exists()


def test_a_restart_on_the_same_volume_keeps_the_data(
    context: tuple[Bundle, BuildContext], running: Started, tmp_path: Path
) -> None:
    bundle, built = context
    headers = {"X-Parse-Application-Id": BACKEND_ID, "X-Parse-Master-Key": NEW_TOKEN}
    request = urllib.request.Request(
        running.base + "/classes/Todo",
        data=b'{"title": "kept across restarts"}',
        headers={**headers, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as reply:
        assert reply.status == 201
    assert running.stop()[0] == 0

    again = Started(built, running.env, tmp_path)
    try:
        assert again.ready.startswith("NODEGX_BACKEND_READY ")
        assert again.get("/health")["bundle"]["hash"] == bundle.hash
        found = again.get("/classes/Todo", headers)["results"]
        assert [item["title"] for item in found] == ["kept across restarts"]
    finally:
        assert again.stop()[0] == 0
