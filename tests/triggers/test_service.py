"""The trigger service end to end: manual and scheduled fires, start-up catch-up, rejections, listing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sidecar.errors import TriggerFileError, TriggerNotFoundError
from sidecar.triggers import SimulatedClock, TriggerKind, TriggerService, TriggerServiceConfig
from sidecar.triggers.clock import settle
from sidecar.triggers.payloads import admin_fire_payload
from tests.triggers.doubles import InProcessFunctions, MemoryHistory, echo

START = datetime(2026, 5, 4, 12, 0, 30, tzinfo=UTC).timestamp()


def open_service(
    tmp_path: Path, functions: InProcessFunctions, history: MemoryHistory, clock: SimulatedClock
) -> TriggerService:
    return TriggerService.open(
        TriggerServiceConfig(tmp_path, "backend_test01", zone=UTC),
        recorder=history,
        functions=functions,
        clock=clock,
    )


def schedule_def(cron: str, **schedule: Any) -> dict[str, Any]:
    return {
        "type": "schedule",
        "name": "tick",
        "target": {"kind": "function", "name": "onOrder"},
        "schedule": {"cron": cron, **schedule},
    }


async def test_a_manual_fire_sends_the_payload_and_returns_the_answer(
    service: TriggerService, functions: InProcessFunctions
) -> None:
    created = await service.create_trigger(schedule_def("0 0 1 1 *"))
    trigger_id = created["trigger"]["id"]
    answer = await service.fire_trigger(trigger_id, {"customer": "c-1"})
    assert answer["ok"] is True
    assert answer["statusCode"] == 200
    payload = answer["body"]["received"]
    assert payload["customer"] == "c-1"  # legacy: the body spread at top level
    assert payload["body"] == {"customer": "c-1"}
    assert payload["triggerType"] == "manual"
    assert payload["triggerId"] == trigger_id
    assert payload["trigger"]["type"] == "manual"
    assert functions.calls[0].trigger.kind is TriggerKind.MANUAL


async def test_a_schedule_fires_its_payload_at_each_slot_and_reports_next_fire(
    tmp_path: Path, functions: InProcessFunctions, history: MemoryHistory
) -> None:
    clock = SimulatedClock(START)
    service = open_service(tmp_path, functions, history, clock)
    await service.start()
    created = await service.create_trigger(schedule_def("*/5 * * * *", payload={"report": "daily"}))
    trigger_id = created["trigger"]["id"]
    assert service.get_trigger(trigger_id)["status"]["nextFireAt"] == "2026-05-04T12:05:00.000Z"
    await clock.advance_to(START + 600)
    await service.close()
    payloads = [call.payload for call in functions.calls]
    assert [p["firedAt"] for p in payloads] == ["2026-05-04T12:05:00.000Z", "2026-05-04T12:10:00.000Z"]
    assert payloads[0]["body"] == {"report": "daily"}
    assert payloads[0]["cron"] == "*/5 * * * *"
    assert payloads[0]["trigger"]["type"] == "schedule"
    assert functions.calls[0].trigger.source == "schedule */5 * * * *"
    status = service.get_trigger(trigger_id)["status"]
    assert status["fireCount"] == 2
    assert status["nextFireAt"] == "2026-05-04T12:15:00.000Z"


async def test_run_once_on_start_catches_up_once_after_downtime(
    tmp_path: Path, functions: InProcessFunctions, history: MemoryHistory
) -> None:
    clock = SimulatedClock(START)
    first = open_service(tmp_path, functions, history, clock)
    await first.start()
    await first.create_trigger(schedule_def("*/5 * * * *", missedFirePolicy="run-once-on-start"))
    await clock.advance_to(START + 300)
    await first.close()
    assert len(functions.calls) == 1
    clock = SimulatedClock(START + 3 * 3600)  # three hours down
    second = open_service(tmp_path, functions, history, clock)
    await second.start()
    await settle()
    await second.close()
    assert len(functions.calls) == 2
    assert functions.calls[1].trigger.source == "run-once-on-start catch-up"


async def test_skip_does_not_fire_on_start(
    tmp_path: Path, functions: InProcessFunctions, history: MemoryHistory
) -> None:
    clock = SimulatedClock(START)
    first = open_service(tmp_path, functions, history, clock)
    await first.start()
    await first.create_trigger(schedule_def("*/5 * * * *"))
    await clock.advance_to(START + 300)
    await first.close()
    second = open_service(tmp_path, functions, history, SimulatedClock(START + 3 * 3600))
    await second.start()
    await settle()
    await second.close()
    assert len(functions.calls) == 1


async def test_a_cron_that_cannot_fire_in_the_file_is_rejected_when_armed(
    tmp_path: Path, functions: InProcessFunctions, history: MemoryHistory
) -> None:
    (tmp_path / "triggers.json").write_text(
        json.dumps({"version": 1, "triggers": [{"id": "trg_AAAAAAAAAAAA", **schedule_def("0 0 31 2 *")}]})
    )
    service = open_service(tmp_path, functions, history, SimulatedClock(START))
    await service.start()
    await service.close()
    [rejection] = history.rejections
    assert rejection.reason.startswith("schedule not armed: ")
    assert rejection.kind is TriggerKind.SCHEDULE
    assert service.get_trigger("trg_AAAAAAAAAAAA")["status"]["nextFireAt"] is None


def test_an_invalid_file_stops_the_service_from_opening(
    tmp_path: Path, functions: InProcessFunctions, history: MemoryHistory
) -> None:
    (tmp_path / "triggers.json").write_text(json.dumps({"version": 1, "triggers": [{"id": "nope"}]}))
    with pytest.raises(TriggerFileError, match=r"triggers\[0\]"):
        open_service(tmp_path, functions, history, SimulatedClock(START))


async def test_a_workflow_target_without_a_runner_is_rejected_with_503(
    service: TriggerService, history: MemoryHistory
) -> None:
    definition = {**schedule_def("0 0 1 1 *"), "target": {"kind": "workflow", "name": "wf_1"}}
    trigger_id = (await service.create_trigger(definition))["trigger"]["id"]
    answer = await service.fire_trigger(trigger_id)
    assert answer["statusCode"] == 503
    assert history.rejections[0].reason == "Backend workflow runner is not ready — trigger fire dropped"


async def test_listing_shows_definitions_with_metrics_and_delete_removes(
    service: TriggerService, functions: InProcessFunctions
) -> None:
    functions.handlers["onOrder"] = echo
    trigger_id = (await service.create_trigger(schedule_def("0 0 1 1 *")))["trigger"]["id"]
    await service.fire_trigger(trigger_id)
    [listed] = service.list_triggers()["triggers"]
    assert listed["id"] == trigger_id
    assert listed["status"]["fireCount"] == 1
    assert listed["status"]["lastResult"]["ok"] is True
    assert listed["status"]["nextFireAt"] is not None
    assert service.delete_trigger(trigger_id) == {"deleted": True, "id": trigger_id}
    assert service.list_triggers()["triggers"] == []
    with pytest.raises(TriggerNotFoundError):
        await service.fire_trigger(trigger_id)


def test_the_admin_fire_route_takes_payload_or_the_body_itself() -> None:
    assert admin_fire_payload({"payload": {"a": 1}}) == {"a": 1}
    assert admin_fire_payload({"a": 1}) == {"a": 1}
    assert admin_fire_payload({}) == {}
