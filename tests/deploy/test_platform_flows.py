"""Railway and Render: the same deploy flow as Fly's against each platform's contract server, which runs
each deployment as a real ``serve`` process pulled from the registry with the login the platform was
given: a deploy, a failed start that leaves the previous release serving, a rollback, env var and secret
updates, a custom domain reaching "issued", rate-limit and 5xx retries, pagination."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sidecar.credentials import CredentialStore
from sidecar.deploy import flow
from sidecar.deploy.releases import ReleaseLog
from sidecar.deploy.targets import TargetStore
from sidecar.errors import DeployStageError
from tests.deploy.conftest import BACKEND_ID, MASTER_ONLY, PLANTED, WEBHOOK_SECRET, Prepared
from tests.deploy.contract.cloud import LocalPlatform, local_platform
from tests.deploy.test_fly_flow import FAST, change_greeting, hello_message

TOKEN = "platform-api-token-PLANTED-0010"
REGISTRY_PASSWORD = "registry-password-PLANTED-0011"
APP = "noodl-shop"


@pytest.fixture(params=["railway", "render"])
async def platform(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, LocalPlatform]]:
    kind = str(request.param)
    async with local_platform(kind, tmp_path / "cloud", TOKEN, ("deployer", REGISTRY_PASSWORD)) as started:
        yield kind, started


def configure(prepared: Prepared, kind: str, platform: LocalPlatform) -> TargetStore:
    credentials = CredentialStore(prepared.data_dir)
    credentials.create(kind, TOKEN, kind)
    credentials.create("registry", REGISTRY_PASSWORD, "generic")
    api_base = platform.url + ("/graphql/v2" if kind == "railway" else "/v1")
    targets = TargetStore(prepared.data_dir)
    targets.configure(
        "production",
        kind,
        APP,
        api_base=api_base,
        registry=platform.registry_host,
        public_url=platform.url + "/_edge/{app}",
        options={"registryCredential": "registry", "registryUser": "deployer"},
    )
    targets.set_secret("production", "NOODL_CONFIG_APISECRET", MASTER_ONLY)
    webhook = "NOODL_WEBHOOK_SECRET_" + prepared.webhook_id.upper().replace("-", "_")
    targets.set_secret("production", webhook, WEBHOOK_SECRET)
    return targets


async def call_hello(platform: LocalPlatform) -> str:
    headers = {"X-Parse-Application-Id": BACKEND_ID}
    url = f"{platform.url}/_edge/{APP}/functions/hello"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json={"name": "Ada"}, headers=headers) as reply,
    ):
        answer: Any = await reply.json(content_type=None)
        assert reply.status == 200, answer
        return hello_message(answer)


async def test_deploy_failed_start_and_rollback(
    prepared: Prepared, platform: tuple[str, LocalPlatform]
) -> None:
    kind, cloud = platform
    configure(prepared, kind, cloud)
    first = await flow.deploy(prepared.data_dir, "production", options=FAST)
    assert first["status"] == "live"
    assert (await call_hello(cloud)).startswith("Hello Ada")

    change_greeting(prepared.data_dir, "Howdy")
    cloud.server.crash_next_starts = 1
    with pytest.raises(DeployStageError) as failed:
        await flow.deploy(prepared.data_dir, "production", options=FAST)
    assert failed.value.stage == "health"
    assert (await call_hello(cloud)).startswith("Hello Ada")

    await flow.deploy(prepared.data_dir, "production", options=FAST)
    assert (await call_hello(cloud)).startswith("Howdy Ada")
    back = await flow.rollback(prepared.data_dir, "production", first["version"], options=FAST)
    assert (back["status"], back["rollbackOf"]) == ("live", 1)
    assert (await call_hello(cloud)).startswith("Hello Ada")
    statuses = [item["status"] for item in ReleaseLog(prepared.data_dir, "production").all()]
    assert statuses == ["superseded", "failed", "superseded", "live"]


async def test_env_vars_and_secrets_diff_then_apply(
    prepared: Prepared, platform: tuple[str, LocalPlatform]
) -> None:
    kind, cloud = platform
    targets = configure(prepared, kind, cloud)
    await flow.deploy(prepared.data_dir, "production", options=FAST)
    targets.set_env("production", {"FEATURE_X": "on"})
    targets.set_secret("production", "STRIPE_KEY", "stripe-PLANTED-0012-value")
    planned = await flow.environment_plan(prepared.data_dir, "production")
    assert planned["env"] == [{"name": "FEATURE_X", "action": "add", "from": None, "to": "on"}]
    assert planned["secrets"] == [{"name": "STRIPE_KEY", "action": "add"}]
    applied = await flow.apply_environment(prepared.data_dir, "production", options=FAST)
    assert applied["release"]["reason"] == "environment"
    held = cloud.server.variables_of(APP)
    assert (held["FEATURE_X"], held["STRIPE_KEY"]) == ("on", "stripe-PLANTED-0012-value")

    targets.set_env("production", {"FEATURE_X": None})
    targets.set_secret("production", "STRIPE_KEY", None)
    planned = await flow.environment_plan(prepared.data_dir, "production")
    assert planned["env"] == [{"name": "FEATURE_X", "action": "remove", "from": "on", "to": None}]
    assert planned["secrets"] == [{"name": "STRIPE_KEY", "action": "remove"}]
    await flow.apply_environment(prepared.data_dir, "production", options=FAST)
    held = cloud.server.variables_of(APP)
    assert "FEATURE_X" not in held
    assert "STRIPE_KEY" not in held
    assert (await call_hello(cloud)).startswith("Hello Ada")


async def test_retries_domain_and_no_secret_in_records(
    prepared: Prepared, platform: tuple[str, LocalPlatform]
) -> None:
    kind, cloud = platform
    configure(prepared, kind, cloud)
    cloud.server.script_busy_api()  # a 429 and a 503 on the first calls, and a small page size
    live = await flow.deploy(prepared.data_dir, "production", options=FAST)
    assert live["status"] == "live"
    assert sum(1 for call in cloud.server.calls if call[-1] in (429, 503)) == 2

    cloud.server.certificate_checks = 2
    done = await flow.add_domain(prepared.data_dir, "production", "api.example.com", poll_s=0.01)
    assert done["status"] == "issued"
    cloud.server.certificate_outcome = "failed"
    failed = await flow.add_domain(
        prepared.data_dir, "production", "www.example.com", wait_s=0.5, poll_s=0.01
    )
    assert failed["status"] == ("failed" if kind == "railway" else "pending")  # Render has no failed state

    for path in (prepared.data_dir / "deploy").rglob("*"):
        if path.is_file() and "secrets-" not in path.name:
            for value in (*PLANTED, TOKEN, REGISTRY_PASSWORD):
                assert value.encode() not in path.read_bytes(), (path, value)
