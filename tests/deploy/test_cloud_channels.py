"""The cloud deploy channels: target, env vars and secrets (values never answered), deploy with
``$/progress``, releases, rollback and a custom domain, through the IPC handlers against the local cloud."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from sidecar.backends.manager import BackendManager
from sidecar.credentials import CredentialStore
from sidecar.errors import DeployStageError
from sidecar.ipc.handlers import register_deploy_methods
from tests.channels import Channels, backend_manager
from tests.deploy.conftest import HELLO
from tests.deploy.contract.cloud import LocalCloud, local_cloud

TOKEN = "fly-api-token-PLANTED-0008-channels"
SECRET = "channel-secret-PLANTED-0009"


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[BackendManager]:
    async with backend_manager(tmp_path / "backends") as managed:
        yield managed


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[LocalCloud]:
    async with local_cloud(tmp_path / "cloud", TOKEN) as started:
        yield started


async def test_deploy_channels_run_the_flow_with_progress_and_never_answer_a_secret(
    manager: BackendManager, cloud: LocalCloud
) -> None:
    call = Channels(register_deploy_methods, manager, progress_token="p1")
    backend_id = str(manager.create("Shop")["id"])
    await manager.start(backend_id)
    manager.running(backend_id, "deploy").workflows.deploy("hello", HELLO)
    CredentialStore(manager.registry.data_dir(backend_id)).create("fly", TOKEN, "fly")

    settings = {
        "provider": "fly",
        "app": "shop-ipc",
        **{
            "apiBase": cloud.fly_url,
            "registry": cloud.registry_host,
            "publicUrl": cloud.fly_url + "/_edge/{app}",
        },
    }
    made = await call("deploy:target-set", backend_id, "production", settings)
    assert (made["provider"], made["app"], made["tokenCredential"]) == ("fly", "shop-ipc", "fly")
    changed = await call("deploy:env-set", backend_id, "production", {"MODE": "prod"}, {"API_SECRET": SECRET})
    assert changed["env"] == {"MODE": "prod"}
    assert changed["secrets"] == ["API_SECRET"]
    assert SECRET not in repr(changed)

    release = await call("deploy:run", backend_id, "production")
    assert (release["version"], release["status"]) == (1, "live")
    kinds = [params[0]["value"]["kind"] for method, params in call.sent if method == "$/progress"]
    assert (kinds[0], kinds[-1]) == ("begin", "end")
    async with aiohttp.ClientSession() as http:
        url = cloud.fly_url + "/_edge/shop-ipc/functions/hello"
        async with http.post(
            url, json={"name": "Ada"}, headers={"X-Parse-Application-Id": backend_id}
        ) as reply:
            assert (await reply.json())["result"]["message"].startswith("Hello Ada")
    assert cloud.fly.apps["shop-ipc"].secrets["API_SECRET"] == SECRET

    plan = await call("deploy:env-plan", backend_id, "production")
    assert plan == {"target": "production", "env": [], "secrets": []}
    listed = await call("deploy:targets", backend_id)
    assert listed["targets"]["production"]["secrets"] == ["API_SECRET", "NOODL_ADMIN_TOKEN"]

    back = await call("deploy:rollback", backend_id, "production", 1)
    assert (back["version"], back["reason"], back["rollbackOf"]) == (2, "rollback", 1)
    history = await call("deploy:releases", backend_id, "production")
    assert [item["status"] for item in history["releases"]] == ["superseded", "live"]
    cloud.fly.certificate_checks = 0
    domain = await call("deploy:domain", backend_id, "production", "shop.example.com", 5.0)
    assert domain["status"] == "issued"
    for text in (repr(history), repr(listed), repr(call.sent)):
        assert TOKEN not in text
        assert SECRET not in text


async def test_a_failed_stage_is_an_error_naming_the_stage(
    manager: BackendManager, cloud: LocalCloud
) -> None:
    call = Channels(register_deploy_methods, manager)
    backend_id = str(manager.create("Shop")["id"])
    settings = {
        "provider": "fly",
        "app": "shop-ipc",
        "apiBase": cloud.fly_url,
        "registry": cloud.registry_host,
    }
    await call("deploy:target-set", backend_id, "production", settings)
    with pytest.raises(DeployStageError) as refused:  # no Fly token anywhere: the validate stage says so
        await call("deploy:run", backend_id, "production")
    assert refused.value.stage == "validate"
    assert "fly" in refused.value.reason
