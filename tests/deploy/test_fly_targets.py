"""Per-target env vars and secrets (a diff before applying, values write-only) and custom domains whose
certificate is polled until issued or failed, against the local Fly contract server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sidecar.deploy import flow
from sidecar.deploy.targets import TargetStore
from sidecar.errors import DeployError
from tests.deploy.conftest import Prepared
from tests.deploy.contract.cloud import LocalCloud, local_cloud
from tests.deploy.test_fly_flow import APP, FAST, TOKEN, configure

NEW_SECRET = "stripe-key-PLANTED-0006-abcdef"


@pytest.fixture
async def cloud(tmp_path: Path) -> AsyncIterator[LocalCloud]:
    async with local_cloud(tmp_path / "cloud", TOKEN) as started:
        yield started


async def test_env_and_secret_changes_show_a_diff_then_apply_on_the_live_image(
    prepared: Prepared, cloud: LocalCloud
) -> None:
    targets = configure(prepared, cloud)
    live = await flow.deploy(prepared.data_dir, "production", options=FAST)
    assert await flow.environment_plan(prepared.data_dir, "production") == {
        "target": "production",
        "env": [],
        "secrets": [],
    }

    targets.set_env("production", {"FEATURE_X": "on"})
    targets.set_secret("production", "STRIPE_KEY", NEW_SECRET)
    planned = await flow.environment_plan(prepared.data_dir, "production")
    assert planned["env"] == [{"name": "FEATURE_X", "action": "add", "from": None, "to": "on"}]
    assert planned["secrets"] == [{"name": "STRIPE_KEY", "action": "add"}]
    assert NEW_SECRET not in repr(planned)
    assert NEW_SECRET not in (prepared.data_dir / "deploy" / "targets.json").read_text()

    applied = await flow.apply_environment(prepared.data_dir, "production", options=FAST)
    release = applied["release"]
    assert (release["status"], release["reason"]) == ("live", "environment")
    assert release["image"] == live["image"]
    assert release["bundleHash"] == live["bundleHash"]
    [machine] = cloud.fly.machines(APP)
    assert machine.config["env"]["FEATURE_X"] == "on"
    assert cloud.fly.apps[APP].secrets["STRIPE_KEY"] == NEW_SECRET
    again = await flow.environment_plan(prepared.data_dir, "production")
    assert (again["env"], again["secrets"]) == ([], [])

    targets.set_secret("production", "STRIPE_KEY", None)
    targets.set_env("production", {"FEATURE_X": None})
    planned = await flow.environment_plan(prepared.data_dir, "production")
    assert planned["secrets"] == [{"name": "STRIPE_KEY", "action": "remove"}]
    assert planned["env"] == [{"name": "FEATURE_X", "action": "remove", "from": "on", "to": None}]
    await flow.apply_environment(prepared.data_dir, "production", options=FAST)
    assert "STRIPE_KEY" not in cloud.fly.apps[APP].secrets
    [machine] = cloud.fly.machines(APP)
    assert "FEATURE_X" not in machine.config["env"]


async def test_a_changed_secret_value_shows_as_a_change_without_its_value(
    prepared: Prepared, cloud: LocalCloud
) -> None:
    targets = configure(prepared, cloud)
    await flow.deploy(prepared.data_dir, "production", options=FAST)
    targets.set_secret("production", "NOODL_CONFIG_APISECRET", "a-rotated-value-PLANTED-0007")
    planned = await flow.environment_plan(prepared.data_dir, "production")
    assert planned["secrets"] == [{"name": "NOODL_CONFIG_APISECRET", "action": "change"}]
    await flow.apply_environment(prepared.data_dir, "production", options=FAST)
    assert cloud.fly.apps[APP].secrets["NOODL_CONFIG_APISECRET"] == "a-rotated-value-PLANTED-0007"


async def test_a_custom_domain_is_polled_until_its_certificate_is_issued(
    prepared: Prepared, cloud: LocalCloud
) -> None:
    configure(prepared, cloud)
    await flow.deploy(prepared.data_dir, "production", options=FAST)
    cloud.fly.certificate_checks = 3
    seen: list[str] = []
    done = await flow.add_domain(
        prepared.data_dir, "production", "API.Example.com", poll_s=0.01, on_stage=lambda m, _p: seen.append(m)
    )
    assert (done["hostname"], done["status"], done["detail"]) == ("api.example.com", "issued", "Ready")
    assert any("pending (Awaiting" in line for line in seen)
    checks = [path for method, path, _ in cloud.fly.calls if method == "POST" and path.endswith("/check")]
    assert checks
    [saved] = TargetStore(prepared.data_dir).require("production").domains
    assert saved["status"] == "issued"


async def test_a_certificate_that_fails_is_reported_failed(prepared: Prepared, cloud: LocalCloud) -> None:
    configure(prepared, cloud)
    await flow.deploy(prepared.data_dir, "production", options=FAST)
    cloud.fly.certificate_outcome = "failed"
    done = await flow.add_domain(prepared.data_dir, "production", "shop.example.org", poll_s=0.01)
    assert done["status"] == "failed"
    with pytest.raises(DeployError, match="not a domain name"):
        await flow.add_domain(prepared.data_dir, "production", "not a host", poll_s=0.01)
