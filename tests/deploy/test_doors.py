"""The deploy doors: ``deploy:*`` channels with ``$/progress``, and ``noodl-sidecar deploy``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sidecar.backends.backend import Backend, BackendSpec
from sidecar.backends.manager import BackendManager
from sidecar.deploy.bundle import collect_bundle, read_bundle
from sidecar.deploy.install import install_bundle
from sidecar.errors import DeployError
from sidecar.ipc.handlers import register_deploy_methods
from tests.channels import Channels, backend_manager
from tests.conftest import PROJECT_ROOT
from tests.deploy.conftest import PLANTED, Prepared

HELLO = json.loads((PROJECT_ROOT / "examples" / "hello.workflow.json").read_text())


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[BackendManager]:
    async with backend_manager(tmp_path / "backends") as managed:
        yield managed


async def test_deploy_channels_write_the_bundle_and_the_context_with_progress(
    manager: BackendManager, tmp_path: Path
) -> None:
    call = Channels(register_deploy_methods, manager, progress_token="p1")
    backend_id = str(manager.create("Shop")["id"])
    await manager.start(backend_id)
    manager.running(backend_id, "deploy").workflows.deploy("hello", HELLO)

    written = await call("deploy:bundle", backend_id, str(tmp_path / "bundle"))
    assert written["bundleHash"] == read_bundle(tmp_path / "bundle").hash
    assert "workflows/hello.workflow.json" in written["files"]
    kinds = [params[0]["value"]["kind"] for method, params in call.sent if method == "$/progress"]
    assert kinds[0] == "begin"
    assert kinds[-1] == "end"

    await manager.stop(backend_id)  # a stopped backend bundles the same
    again = await collect_bundle(manager.registry.data_dir(backend_id))
    assert again.hash == written["bundleHash"]

    context = await call(
        "deploy:build-context", backend_id, str(tmp_path / "context"), {"baseImage": "local/py"}
    )
    assert context["bundleHash"] == written["bundleHash"]
    assert context["requiredEnvironment"] == ["NOODL_ADMIN_TOKEN"]
    assert "ARG BASE_IMAGE=local/py" in await asyncio.to_thread(Path(context["dockerfile"]).read_text)
    with pytest.raises(DeployError, match="not empty"):
        await call("deploy:bundle", backend_id, str(tmp_path / "bundle"))

    # What the container's entry does with it: install into an empty volume, then serve.
    volume = tmp_path / "volume"
    await install_bundle(read_bundle(tmp_path / "bundle"), volume, {"NOODL_ADMIN_TOKEN": "t" * 20})
    served = Backend(BackendSpec(data_dir=volume, backend_id=backend_id, name="Shop", admin_token="t" * 20))
    await served.start()
    try:
        health = served.health()
        assert health["bundle"]["hash"] == written["bundleHash"]
        assert [item["name"] for item in health["workflows"]["functions"]] == ["hello"]
    finally:
        await served.stop()


def _deploy(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOODL_HOME": str(home), "NOODL_CREDENTIALS_KEYRING": "0"}
    return subprocess.run(
        [sys.executable, "-m", "sidecar", "deploy", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_writes_the_context_and_prints_one_line(prepared: Prepared, tmp_path: Path) -> None:
    out = tmp_path / "ctx"
    done = _deploy(str(prepared.data_dir), "--provider", "docker", "--out", str(out), home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    answer = json.loads(line)
    assert answer["provider"] == "docker"
    assert answer["bundleHash"] == read_bundle(out / "bundle").hash
    assert (out / "Dockerfile").is_file()
    assert "deploy_stage" in done.stderr
    for secret in PLANTED:
        assert secret not in done.stdout + done.stderr

    again = _deploy(str(prepared.data_dir), "--provider", "docker", "--out", str(out), home=tmp_path / "home")
    assert (again.returncode, again.stdout) == (1, "")
    assert "is not empty" in again.stderr


def test_the_command_refuses_bad_arguments(tmp_path: Path) -> None:
    unknown = _deploy("backend_nope", "--provider", "docker", "--out", str(tmp_path / "o"), home=tmp_path)
    assert (unknown.returncode, unknown.stdout) == (2, "")
    assert "no backend 'backend_nope'" in unknown.stderr
    provider = _deploy("backend_nope", "--provider", "heroku", "--out", str(tmp_path / "o"), home=tmp_path)
    assert provider.returncode == 2
    assert "invalid choice" in provider.stderr
