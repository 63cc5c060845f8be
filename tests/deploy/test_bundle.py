"""The deploy bundle: what it holds, that no secret reaches it, and that its hash is the content's."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from sidecar import __version__
from sidecar.deploy.bundle import collect_bundle, read_bundle, sha256
from sidecar.errors import BundleLeakError, DeployError
from tests.deploy.conftest import (
    ADMIN_TOKEN,
    CREDENTIAL,
    HISTORY_ONLY,
    MASTER_ONLY,
    PLANTED,
    WEBHOOK_SECRET,
    Prepared,
)


def _everything_under(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())


async def test_the_secrets_are_planted_where_a_bundle_must_not_look(prepared: Prepared) -> None:
    data = prepared.data_dir
    assert ADMIN_TOKEN in (data / "secrets.json").read_text()
    assert WEBHOOK_SECRET in (data / "secrets.json").read_text()
    assert MASTER_ONLY in (data / "config-params.json").read_text()
    with sqlite3.connect(data / "executions.sqlite") as history:
        dumped = "\n".join(history.iterdump())
    assert HISTORY_ONLY in dumped


async def test_the_bundle_holds_the_backend_and_no_secret_byte(prepared: Prepared, tmp_path: Path) -> None:
    bundle = await collect_bundle(prepared.data_dir)
    out = bundle.write(tmp_path / "bundle")
    assert sorted(bundle.files) == [
        "alerts.json",
        "backend.json",
        "config/master-key-only.json",
        "config/params.json",
        "environment.json",
        "python/requirements.txt",
        "schema.json",
        "security.json",
        "triggers.json",
        "workflows/hello.workflow.json",
    ]
    raw = _everything_under(out)
    for secret in PLANTED:
        assert secret.encode() not in raw, secret
    assert b"keyHash" not in raw
    assert b"SQLite format" not in raw

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sidecarVersion"] == __version__
    assert manifest["backend"] == {"id": "backend_deploy1", "name": "Deploy me"}
    assert manifest["files"]["workflows/hello.workflow.json"] == sha256(
        (prepared.data_dir / "workflows" / "hello.workflow.json").read_bytes()
    )
    classes = {
        schema["className"]: schema for schema in json.loads((out / "schema.json").read_text())["classes"]
    }
    assert classes["Todo"]["fields"]["title"] == {"type": "String"}
    assert json.loads((out / "config/params.json").read_text()) == {"greeting": "hi"}
    assert json.loads((out / "config/master-key-only.json").read_text()) == {
        "apiSecret": True,
        "greeting": False,
    }
    trigger = json.loads((out / "triggers.json").read_text())["triggers"][0]
    assert trigger["webhook"]["slug"] == "orders"
    assert "status" not in trigger
    assert json.loads((out / "security.json").read_text())["devOpen"] is False
    variables = {item["name"] for item in json.loads((out / "environment.json").read_text())["variables"]}
    webhook_env = "NOODL_WEBHOOK_SECRET_" + prepared.webhook_id.upper().replace("-", "_")
    assert variables == {"NOODL_ADMIN_TOKEN", "NOODL_CREDENTIAL_FLY", "NOODL_CONFIG_APISECRET", webhook_env}
    assert json.loads((out / "alerts.json").read_text()) == {"alerts": []}


async def test_the_same_content_gives_the_same_hash_and_a_change_another(prepared: Prepared) -> None:
    first = await collect_bundle(prepared.data_dir)
    second = await collect_bundle(prepared.data_dir)
    assert first.hash == second.hash
    assert first.hash.startswith("sha256:")
    assert first.files == second.files
    workflow = prepared.data_dir / "workflows" / "hello.workflow.json"
    export = json.loads(workflow.read_text())
    export["components"][0]["nodes"][1]["parameters"]["format"] = "Changed {name}"
    workflow.write_text(json.dumps(export))
    assert (await collect_bundle(prepared.data_dir)).hash != first.hash


async def test_a_secret_pasted_into_a_workflow_refuses_the_bundle(prepared: Prepared, tmp_path: Path) -> None:
    workflow = prepared.data_dir / "workflows" / "hello.workflow.json"
    export = json.loads(workflow.read_text())
    export["components"][0]["nodes"][1]["parameters"]["format"] = f"key {CREDENTIAL} {{name}}"
    workflow.write_text(json.dumps(export))
    with pytest.raises(BundleLeakError) as refused:
        await collect_bundle(prepared.data_dir)
    assert refused.value.data == {"files": [{"file": "workflows/hello.workflow.json", "kind": "credential"}]}
    assert CREDENTIAL not in refused.value.message


async def test_a_written_bundle_reads_back_and_a_changed_file_is_refused(
    prepared: Prepared, tmp_path: Path
) -> None:
    bundle = await collect_bundle(prepared.data_dir)
    out = bundle.write(tmp_path / "bundle")
    assert read_bundle(out).hash == bundle.hash
    (out / "config" / "params.json").write_text('{"greeting": "tampered"}\n')
    with pytest.raises(DeployError, match=r"config/params\.json was changed"):
        read_bundle(out)
    with pytest.raises(DeployError, match="not empty"):
        bundle.write(out)


async def test_a_deploy_target_secret_pasted_into_a_workflow_refuses_the_bundle(prepared: Prepared) -> None:
    from sidecar.deploy.targets import TargetStore

    target_secret = "target-secret-PLANTED-0013"
    targets = TargetStore(prepared.data_dir)
    targets.configure("production", "fly", "noodl-shop")
    targets.set_secret("production", "STRIPE_KEY", target_secret)
    workflow = prepared.data_dir / "workflows" / "hello.workflow.json"
    export = json.loads(workflow.read_text())
    export["components"][0]["nodes"][1]["parameters"]["format"] = f"key {target_secret} {{name}}"
    workflow.write_text(json.dumps(export))
    with pytest.raises(BundleLeakError) as refused:
        await collect_bundle(prepared.data_dir)
    assert refused.value.data == {
        "files": [{"file": "workflows/hello.workflow.json", "kind": "secret of deploy target production"}]
    }
