"""``noodl-sidecar deploy BACKEND --provider fly``: one JSON line for the live release, the stages on
stderr without a secret, Ctrl-C mid-deploy puts the previous release back (exit 130)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sidecar.deploy.releases import ReleaseLog
from tests.conftest import PROJECT_ROOT
from tests.deploy.conftest import PLANTED, Prepared
from tests.deploy.contract.cloud import LocalCloud, local_cloud
from tests.deploy.test_fly_flow import TOKEN, change_greeting, configure


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[LocalCloud]:
    async with local_cloud(tmp_path / "cloud", TOKEN) as started:
        yield started


async def _start(*args: str, home: Path) -> asyncio.subprocess.Process:
    env = {**os.environ, "NOODL_HOME": str(home), "NOODL_CREDENTIALS_KEYRING": "0"}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sidecar", "deploy", *args,
        cwd=PROJECT_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_the_command_deploys_to_fly_and_prints_the_release(
    prepared: Prepared, cloud: LocalCloud, tmp_path: Path
) -> None:
    configure(prepared, cloud)  # the secrets the bundle needs; the app comes from the command line
    settings = cloud.target_settings()
    process = await _start(
        str(prepared.data_dir), "--provider", "fly", "--app", "shop-cli",
        "--api-base", settings["api_base"], "--registry", settings["registry"],
        "--public-url", settings["public_url"], home=tmp_path / "home",
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, err.decode()
    [line] = out.decode().splitlines()
    release = json.loads(line)
    assert (release["status"], release["version"], release["reason"]) == ("live", 1, "deploy")
    assert "shop-cli" in cloud.fly.apps
    text = (out + err).decode()
    assert "deploy_stage" in text
    for secret in PLANTED:
        assert secret not in text


async def test_ctrl_c_mid_deploy_puts_the_previous_release_back(
    prepared: Prepared, cloud: LocalCloud, tmp_path: Path
) -> None:
    configure(prepared, cloud)
    first = await _start(str(prepared.data_dir), "--provider", "fly", home=tmp_path / "home")
    await asyncio.wait_for(first.communicate(), 90)
    assert first.returncode == 0
    change_greeting(prepared.data_dir, "Howdy")
    cloud.fly.slow_start_s = 60.0
    second = await _start(str(prepared.data_dir), "--provider", "fly", home=tmp_path / "home")
    assert second.stderr is not None
    while True:  # until the deploy waits for the new machine
        line = await asyncio.wait_for(second.stderr.readline(), 60)
        assert line, "the deploy ended before its health stage"
        if b"health:" in line:
            break
    cloud.fly.slow_start_s = 0.0
    second.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(second.communicate(), 90)
    assert (second.returncode, out) == (130, b""), err.decode()
    assert b"cancelled" in err
    history = ReleaseLog(prepared.data_dir, "production").all()
    assert [(item["status"], item.get("restored")) for item in history] == [
        ("live", None),
        ("cancelled", True),
    ]


async def test_the_command_deploys_to_render_with_the_registry_login_it_is_given(
    prepared: Prepared, tmp_path: Path
) -> None:
    from sidecar.credentials import CredentialStore
    from sidecar.deploy.targets import TargetStore
    from tests.deploy.contract.cloud import local_platform
    from tests.deploy.test_platform_flows import REGISTRY_PASSWORD
    from tests.deploy.test_platform_flows import TOKEN as RENDER_TOKEN

    async with local_platform(
        "render", tmp_path / "render", RENDER_TOKEN, ("deployer", REGISTRY_PASSWORD)
    ) as cloud:
        store = CredentialStore(prepared.data_dir)
        store.create("render", RENDER_TOKEN, "render")
        store.create("registry", REGISTRY_PASSWORD, "generic")
        targets = TargetStore(prepared.data_dir)
        targets.configure("production", "render", "shop-render")
        targets.set_secret("production", "NOODL_CONFIG_APISECRET", "x" * 12)
        webhook = "NOODL_WEBHOOK_SECRET_" + prepared.webhook_id.upper().replace("-", "_")
        targets.set_secret("production", webhook, "y" * 12)
        process = await _start(
            str(prepared.data_dir), "--provider", "render", "--api-base", cloud.url + "/v1",
            "--registry", cloud.registry_host, "--public-url", cloud.url + "/_edge/{app}",
            "--registry-credential", "registry", "--registry-user", "deployer", home=tmp_path / "home",
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, err.decode()
        assert json.loads(out)["status"] == "live"
        target = TargetStore(prepared.data_dir).require("production")
        assert target.spec.options == {"registryCredential": "registry", "registryUser": "deployer"}
        assert target.spec.app == "shop-render"
        for value in (RENDER_TOKEN, REGISTRY_PASSWORD):
            assert value not in (out + err).decode()
