"""The deploy flow against the local Fly contract server and registry: every machine is a real ``serve``
process started from the pushed image, so "healthy" means the deployed backend answered ``/health`` with
the bundle's hash and a deployed function answers through the app's public address."""

from __future__ import annotations

import asyncio
import json
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog

from sidecar.deploy import flow
from sidecar.deploy.bundle import collect_bundle
from sidecar.deploy.releases import ReleaseLog
from sidecar.deploy.targets import TargetSecrets, TargetStore
from sidecar.errors import DeployStageError
from tests.deploy.conftest import (
    BACKEND_ID,
    CREDENTIAL,
    HELLO,
    MASTER_ONLY,
    PLANTED,
    WEBHOOK_SECRET,
    Prepared,
)
from tests.deploy.contract.cloud import LocalCloud, local_cloud

TOKEN = CREDENTIAL  # the backend's "fly" credential is the Fly API token
APP = "noodl-shop"
# Generous limits: a deployed backend is a real `serve` process, slow to start on a loaded machine.
FAST = flow.FlowOptions(health_timeout_s=90.0, poll_s=0.1, restore_timeout_s=90.0)


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[LocalCloud]:
    async with local_cloud(tmp_path / "cloud", TOKEN) as started:
        yield started


def configure(prepared: Prepared, cloud: LocalCloud, *, secrets: bool = True) -> TargetStore:
    targets = TargetStore(prepared.data_dir)
    targets.configure("production", "fly", APP, region="ams", **cloud.target_settings())
    if secrets:
        targets.set_secret("production", "NOODL_CONFIG_APISECRET", MASTER_ONLY)
        webhook = "NOODL_WEBHOOK_SECRET_" + prepared.webhook_id.upper().replace("-", "_")
        targets.set_secret("production", webhook, WEBHOOK_SECRET)
    return targets


async def edge(cloud: LocalCloud, path: str, body: Any = None) -> tuple[int, Any]:
    headers = {"X-Parse-Application-Id": BACKEND_ID}
    async with aiohttp.ClientSession() as http:
        url = f"{cloud.fly_url}/_edge/{APP}{path}"
        call = http.get(url, headers=headers) if body is None else http.post(url, json=body, headers=headers)
        async with call as reply:
            return reply.status, await reply.json(content_type=None)


def change_greeting(data_dir: Path, text: str) -> None:
    """A second version of the backend: the hello workflow answers with another greeting."""
    changed = json.loads(json.dumps(HELLO).replace("Hello ", text + " "))
    path = data_dir / "workflows" / "hello.workflow.json"
    path.write_text(json.dumps(changed))


def hello_message(answer: Any) -> str:
    return str(answer["result"]["message"])


async def test_a_deploy_reaches_a_healthy_machine_and_serves_the_function(
    prepared: Prepared, cloud: LocalCloud
) -> None:
    configure(prepared, cloud)
    stages: list[str] = []
    live = await flow.deploy(
        prepared.data_dir, "production", options=FAST, on_stage=lambda m, _p: stages.append(m)
    )

    bundle = await collect_bundle(prepared.data_dir)
    assert live["status"] == "live"
    assert live["version"] == 1
    assert live["bundleHash"] == bundle.hash
    assert live["image"]["reference"].startswith(f"{cloud.registry_host}/{APP}:noodl-")
    assert set(live["stages"]) == {"validate", "build", "push", "release", "health", "record"}
    assert [line.split(":")[0] for line in stages][:1] == ["validate"]

    status, health = await edge(cloud, "/health")
    assert (status, health["bundle"]["hash"]) == (200, bundle.hash)
    status, answer = await edge(cloud, "/functions/hello", {"name": "Ada"})
    assert status == 200
    assert hello_message(answer).startswith("Hello Ada")

    [machine] = cloud.fly.machines(APP)
    assert machine.config["checks"]["health"]["path"] == "/health"
    assert machine.config["mounts"][0]["path"] == "/data"
    app = cloud.fly.apps[APP]
    assert set(app.secrets) >= {"NOODL_ADMIN_TOKEN", "NOODL_CONFIG_APISECRET"}
    toml = tomllib.loads((prepared.data_dir / "deploy" / "fly-production.toml").read_text())
    assert toml["app"] == APP
    assert toml["build"]["image"] == live["image"]["reference"]
    assert toml["http_service"]["checks"][0]["path"] == "/health"


async def test_a_failed_health_check_leaves_the_previous_release_serving_and_rollback_redeploys_it(
    prepared: Prepared, cloud: LocalCloud
) -> None:
    configure(prepared, cloud)
    first = await flow.deploy(prepared.data_dir, "production", options=FAST)

    change_greeting(prepared.data_dir, "Howdy")
    cloud.fly.crash_next_starts = 1  # the new machine starts without its secrets and exits
    with pytest.raises(DeployStageError) as failed:
        await flow.deploy(prepared.data_dir, "production", options=FAST)
    assert failed.value.stage == "health"
    assert failed.value.data["restored"] is True
    status, answer = await edge(cloud, "/functions/hello", {"name": "Ada"})
    assert (status, hello_message(answer).split()[0]) == (200, "Hello")

    second = await flow.deploy(prepared.data_dir, "production", options=FAST)
    _, answer = await edge(cloud, "/functions/hello", {"name": "Ada"})
    assert hello_message(answer).startswith("Howdy Ada")

    back = await flow.rollback(prepared.data_dir, "production", first["version"], options=FAST)
    _, answer = await edge(cloud, "/functions/hello", {"name": "Ada"})
    assert hello_message(answer).startswith("Hello Ada")
    assert back["rollbackOf"] == first["version"]
    assert back["bundleHash"] == first["bundleHash"]
    assert "build" not in back["stages"]  # the earlier image, not a new build

    history = ReleaseLog(prepared.data_dir, "production").all()
    assert [(item["version"], item["status"]) for item in history] == [
        (1, "superseded"),
        (2, "failed"),
        (3, "superseded"),
        (4, "live"),
    ]
    assert history[1]["stage"] == "health"
    assert "did not start" in history[1]["error"]
    assert second["version"] == 3


async def test_a_missing_secret_fails_validation_and_changes_nothing(
    prepared: Prepared, cloud: LocalCloud
) -> None:
    configure(prepared, cloud, secrets=False)
    with pytest.raises(DeployStageError) as failed:
        await flow.deploy(prepared.data_dir, "production", options=FAST)
    assert failed.value.stage == "validate"
    assert "NOODL_CONFIG_APISECRET" in failed.value.reason
    assert cloud.fly.apps == {}
    assert cloud.registry.manifests == {}


async def test_rate_limits_and_gateway_errors_are_retried(prepared: Prepared, cloud: LocalCloud) -> None:
    configure(prepared, cloud)
    cloud.fly.fail("POST", r"/machines$", 429, times=2, retry_after="0")
    cloud.fly.fail("GET", r"/volumes$", 503, times=2)
    live = await flow.deploy(prepared.data_dir, "production", options=FAST)
    assert live["status"] == "live"
    refused = [(method, path, status) for method, path, status in cloud.fly.calls if status in (429, 503)]
    assert len(refused) == 4
    created = [call for call in cloud.fly.calls if call[0] == "POST" and call[1].endswith("/machines")]
    assert [status for *_, status in created] == [429, 429, 200]


async def test_a_refused_call_fails_its_stage_with_the_providers_message(
    prepared: Prepared, cloud: LocalCloud
) -> None:
    configure(prepared, cloud)
    cloud.fly.fail("POST", r"/machines$", 500)
    with pytest.raises(DeployStageError) as failed:
        await flow.deploy(prepared.data_dir, "production", options=FAST)
    assert failed.value.stage == "release"
    assert "fly API answered 500: upstream unavailable" in failed.value.reason
    [release] = ReleaseLog(prepared.data_dir, "production").all()
    assert release["status"] == "failed"


async def test_cancelling_mid_deploy_restores_the_previous_release(
    prepared: Prepared, cloud: LocalCloud
) -> None:
    configure(prepared, cloud)
    await flow.deploy(prepared.data_dir, "production", options=FAST)
    change_greeting(prepared.data_dir, "Howdy")
    cloud.fly.slow_start_s = 30.0  # the new machine takes its time: the deploy sits in "health"
    stages: list[str] = []
    task = asyncio.create_task(
        flow.deploy(prepared.data_dir, "production", options=FAST, on_stage=lambda m, _p: stages.append(m))
    )

    async def reached_health() -> None:
        while not any(line.startswith("health") for line in stages):  # noqa: ASYNC110 (a list, not an event)
            await asyncio.sleep(0.05)

    await asyncio.wait_for(reached_health(), 60)
    cloud.fly.slow_start_s = 0.0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    history = ReleaseLog(prepared.data_dir, "production").all()
    assert (history[-1]["status"], history[-1]["stage"], history[-1]["restored"]) == (
        "cancelled",
        "health",
        True,
    )
    assert history[0]["status"] == "live"
    _, answer = await edge(cloud, "/functions/hello", {"name": "Ada"})
    assert hello_message(answer).startswith("Hello Ada")


async def test_no_token_or_secret_value_reaches_records_logs_or_the_image(
    prepared: Prepared, cloud: LocalCloud
) -> None:
    configure(prepared, cloud)
    seen: list[str] = []
    with structlog.testing.capture_logs() as events:  # what is handed to the logger, before any redaction
        await flow.deploy(
            prepared.data_dir, "production", options=FAST, on_stage=lambda m, _p: seen.append(m)
        )
    generated = TargetSecrets(prepared.data_dir, "production").stored_value("NOODL_ADMIN_TOKEN")
    assert generated
    values = [*PLANTED, generated]
    deploy_dir = prepared.data_dir / "deploy"
    readable = [path for path in deploy_dir.rglob("*") if path.is_file() and "secrets-" not in path.name]
    assert readable
    for path in readable:
        text = path.read_bytes()
        for value in values:
            assert value.encode() not in text, (path, value)
    for blob in cloud.registry.blobs.values():
        for value in values:
            assert value.encode() not in blob
    logged = repr(events)
    assert "deploy_stage" in logged
    for value in values:
        assert value not in "\n".join(seen)
        assert value not in logged
    stored = (deploy_dir / "secrets-production.json").read_bytes()
    for value in values:
        assert value.encode() not in stored  # encrypted at rest


async def test_an_unexpected_answer_after_the_update_still_restores_and_records(
    prepared: Prepared, cloud: LocalCloud
) -> None:
    from sidecar.deploy.providers import make_provider
    from sidecar.deploy.providers.base import Provider, Released, TargetSpec

    class Garbled:
        """The real provider, except that a release's answer is not what the client expects (after the
        machine has really been updated)."""

        def __init__(self, inner: Provider) -> None:
            self.inner = inner
            self.calls = 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        async def release(self, image: str, env: Any) -> Released:
            self.calls += 1
            done = await self.inner.release(image, env)
            if self.calls == 1:
                raise KeyError("instance_id")
            return done

    def factory(spec: TargetSpec, token: str, login: tuple[str, str] | None = None) -> Provider:
        return Garbled(make_provider(spec, token, login))

    configure(prepared, cloud)
    await flow.deploy(prepared.data_dir, "production", options=FAST)
    change_greeting(prepared.data_dir, "Howdy")
    with pytest.raises(DeployStageError) as failed:
        await flow.deploy(prepared.data_dir, "production", options=FAST, provider_factory=factory)
    assert failed.value.stage == "release"
    assert "KeyError" in failed.value.reason
    assert failed.value.data["restored"] is True
    _, answer = await edge(cloud, "/functions/hello", {"name": "Ada"})
    assert hello_message(answer).startswith("Hello Ada")
    history = ReleaseLog(prepared.data_dir, "production").all()
    assert [(item["status"], item.get("restored")) for item in history] == [("live", None), ("failed", True)]
