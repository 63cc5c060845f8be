"""triggers.json: strict validation naming every bad entry, CRUD, secrets handling, status, atomic writes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from sidecar.errors import InvalidTriggerError, TriggerFileError, TriggerNotFoundError
from sidecar.triggers import FileSecretStore, TriggerRegistry
from sidecar.triggers.model import LastResult

NOW = "2026-01-02T03:04:05.678Z"


def open_registry(tmp_path: Path) -> TriggerRegistry:
    return TriggerRegistry.open(
        tmp_path / "triggers.json", FileSecretStore(tmp_path / "secrets.json"), lambda: NOW
    )


def webhook(slug: str = "orders", **extra: Any) -> dict[str, Any]:
    return {
        "type": "webhook",
        "target": {"kind": "function", "name": "onOrder"},
        "webhook": {"slug": slug},
        **extra,
    }


def schedule(cron: str = "*/5 * * * *") -> dict[str, Any]:
    return {"type": "schedule", "target": {"kind": "function", "name": "tick"}, "schedule": {"cron": cron}}


def write_file(tmp_path: Path, document: Any) -> None:
    (tmp_path / "triggers.json").write_text(json.dumps(document))


def test_a_missing_file_is_an_empty_registry(tmp_path: Path) -> None:
    assert open_registry(tmp_path).triggers() == []


def test_an_invalid_file_refuses_to_start_and_names_every_bad_entry(tmp_path: Path) -> None:
    good = {"id": "trg_AAAAAAAAAAAA", **webhook("same")}
    write_file(
        tmp_path,
        {
            "version": 1,
            "triggers": [
                good,
                {"id": "trg_BBBBBBBBBBBB", **webhook("same")},
                {"id": "trg_CCCCCCCCCCCC", **schedule(), "colour": "red"},
                {"id": "trg_DDDDDDDDDDDD", **schedule(), "webhook": {"slug": "x"}},
                {
                    "id": "trg_EEEEEEEEEEEE",
                    "type": "db-change",
                    "target": {"kind": "function", "name": "f"},
                    "dbChange": {"collection": "Order", "actions": ["upsert"]},
                },
                good,
            ],
        },
    )
    with pytest.raises(TriggerFileError) as caught:
        open_registry(tmp_path)
    problems = caught.value.problems
    assert (
        "triggers[1] (trg_BBBBBBBBBBBB): duplicate webhook slug 'same' (also triggers[0] (trg_AAAAAAAAAAAA))"
        in (problems)
    )
    assert "triggers[2] (trg_CCCCCCCCCCCC): unknown key 'colour'" in problems
    assert any(p.startswith("triggers[3] (trg_DDDDDDDDDDDD): needs exactly one type block") for p in problems)
    assert any(p.startswith("triggers[4] (trg_EEEEEEEEEEEE).dbChange.actions") for p in problems)
    assert any("duplicate id 'trg_AAAAAAAAAAAA'" in p for p in problems)
    assert str(tmp_path / "triggers.json") in caught.value.message


def test_unparsable_json_is_a_start_up_error(tmp_path: Path) -> None:
    (tmp_path / "triggers.json").write_text("{not json")
    with pytest.raises(TriggerFileError, match="not valid JSON"):
        open_registry(tmp_path)


def test_create_mints_an_id_and_a_secret_shown_once(tmp_path: Path) -> None:
    registry = open_registry(tmp_path)
    created = registry.upsert(webhook())
    assert created.trigger.id.startswith("trg_")
    assert len(created.trigger.id) == 16
    assert created.secret is not None
    assert created.secret.startswith("whsec_")
    again = registry.upsert(webhook(name="renamed"), created.trigger.id)
    assert again.secret is None
    assert again.trigger.name == "renamed"
    assert again.trigger.created_at == created.trigger.created_at


def test_secrets_live_in_secrets_json_with_mode_0600_and_keep_other_keys(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text(json.dumps({"adminToken": "admin-token-value"}))
    registry = open_registry(tmp_path)
    created = registry.upsert(webhook())
    secrets_doc = json.loads((tmp_path / "secrets.json").read_text())
    assert secrets_doc["adminToken"] == "admin-token-value"
    assert secrets_doc["webhooks"] == {created.trigger.id: created.secret}
    assert stat.S_IMODE(os.stat(tmp_path / "secrets.json").st_mode) == 0o600
    assert created.secret is not None
    assert created.secret not in (tmp_path / "triggers.json").read_text()


def test_delete_removes_the_trigger_and_its_secret(tmp_path: Path) -> None:
    registry = open_registry(tmp_path)
    created = registry.upsert(webhook())
    registry.delete(created.trigger.id)
    assert json.loads((tmp_path / "secrets.json").read_text())["webhooks"] == {}
    with pytest.raises(TriggerNotFoundError):
        registry.get(created.trigger.id)
    assert open_registry(tmp_path).triggers() == []


def test_a_supplied_secret_is_stored_and_echoed(tmp_path: Path) -> None:
    created = open_registry(tmp_path).upsert({**webhook(), "secret": "my-own-secret-value"})
    assert created.secret == "my-own-secret-value"
    assert (
        FileSecretStore(tmp_path / "secrets.json").webhook_secret(created.trigger.id) == "my-own-secret-value"
    )


@pytest.mark.parametrize(
    ("definition", "problem"),
    [
        ({**webhook(), "extra": 1}, "unknown key 'extra'"),
        (webhook("Bad Slug"), "webhook.slug"),
        ({**schedule(), "webhook": {"slug": "a"}}, "needs exactly one type block"),
        (schedule("not a cron"), "schedule.cron"),
        (schedule("0 0 30 2 *"), "no next fire within 4 years"),
        (
            {
                "type": "schedule",
                "target": {"kind": "lambda", "name": "x"},
                "schedule": {"cron": "* * * * *"},
            },
            "target.kind",
        ),
        ({**webhook(), "webhook": {"slug": "a", "maxBodyBytes": 60 * 1024 * 1024}}, "maxBodyBytes"),
    ],
)
def test_invalid_definitions_are_refused_and_change_nothing(
    tmp_path: Path, definition: dict[str, Any], problem: str
) -> None:
    registry = open_registry(tmp_path)
    with pytest.raises(InvalidTriggerError) as caught:
        registry.upsert(definition)
    assert any(problem in item for item in caught.value.problems), caught.value.problems
    assert registry.triggers() == []
    assert not (tmp_path / "triggers.json").exists()


def test_a_second_webhook_with_a_taken_slug_is_refused(tmp_path: Path) -> None:
    registry = open_registry(tmp_path)
    registry.upsert(webhook("orders"))
    with pytest.raises(InvalidTriggerError, match="duplicate webhook slug 'orders'"):
        registry.upsert(webhook("orders"))


def test_registry_owned_fields_are_accepted_and_ignored_on_write(tmp_path: Path) -> None:
    registry = open_registry(tmp_path)
    created = registry.upsert(
        {**schedule(), "createdAt": "1999-01-01T00:00:00Z", "status": {"fireCount": 99}}
    )
    assert created.trigger.created_at == NOW
    assert created.trigger.status.fire_count == 0


def test_the_file_is_pretty_json_with_a_trailing_newline_and_round_trips(tmp_path: Path) -> None:
    registry = open_registry(tmp_path)
    created = registry.upsert(schedule())
    registry.set_enabled(created.trigger.id, False)
    text = (tmp_path / "triggers.json").read_text()
    assert text.endswith("}\n")
    assert text.startswith('{\n  "version": 1,')
    reopened = open_registry(tmp_path).get(created.trigger.id)
    assert reopened.enabled is False
    assert reopened.to_wire() == registry.get(created.trigger.id).to_wire()
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


async def test_fires_update_counts_last_result_and_last_error_and_reach_the_file(tmp_path: Path) -> None:
    registry = open_registry(tmp_path)
    trigger_id = registry.upsert(schedule()).trigger.id
    registry.record_fire(trigger_id, LastResult(False, NOW, 500, "Target returned HTTP 500"))
    registry.record_fire(trigger_id, LastResult(True, NOW, 200), next_fire_at="2026-01-02T03:05:00.000Z")
    registry.flush()
    status = open_registry(tmp_path).get(trigger_id).status.to_wire()
    assert status == {
        "lastFiredAt": NOW,
        "nextFireAt": "2026-01-02T03:05:00.000Z",
        "lastResult": {"ok": True, "at": NOW, "statusCode": 200},
        "fireCount": 2,
        "errorCount": 1,
        "lastError": {"ok": False, "at": NOW, "statusCode": 500, "error": "Target returned HTTP 500"},
        "skippedCount": 0,
    }


def test_an_unreadable_secrets_file_is_a_start_up_error(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text("{oops")
    with pytest.raises(TriggerFileError, match=r"secrets\.json"):
        open_registry(tmp_path)
