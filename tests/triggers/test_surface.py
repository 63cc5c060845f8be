"""The package's public names, the local zone rule, and a property check of cron evaluation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sidecar.triggers
from sidecar.triggers import next_fire, parse_cron
from sidecar.triggers.zone import local_zone


def test_public_surface_is_pinned() -> None:
    assert sorted(sidecar.triggers.__all__) == [
        "ChangeSource",
        "Clock",
        "CronSpec",
        "FileSecretStore",
        "FireOutcome",
        "FunctionRequest",
        "FunctionTarget",
        "Rejection",
        "RejectionRecorder",
        "SecretStore",
        "SimulatedClock",
        "SystemClock",
        "TriggerDef",
        "TriggerInfo",
        "TriggerKind",
        "TriggerRegistry",
        "TriggerService",
        "TriggerServiceConfig",
        "TriggersFile",
        "UpsertResult",
        "WebhookGateway",
        "WorkflowTarget",
        "next_fire",
        "parse_cron",
    ]


def test_the_local_zone_follows_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    assert str(local_zone()) == "Asia/Tokyo"
    monkeypatch.setenv("TZ", "Not/AZone")
    assert local_zone() is not None


minute_sets = st.frozensets(st.integers(0, 59), min_size=1, max_size=4)
HOURS = {"*": set(range(24)), "*/2": set(range(0, 24, 2)), "*/6": {0, 6, 12, 18}, "8-17": set(range(8, 18))}
WEEKDAYS = {"*": set(range(7)), "MON-FRI": {1, 2, 3, 4, 5}, "0,6": {0, 6}, "3": {3}}  # 0 = Sunday


@settings(max_examples=40, deadline=None)
@given(
    minutes=minute_sets,
    hour=st.sampled_from(sorted(HOURS)),
    weekday=st.sampled_from(sorted(WEEKDAYS)),
    start=st.integers(1_700_000_000, 1_900_000_000),
)
def test_next_fire_is_the_first_matching_minute_strictly_after(
    minutes: frozenset[int], hour: str, weekday: str, start: int
) -> None:
    def matches(instant: float) -> bool:
        moment = datetime.fromtimestamp(instant, UTC)
        return (
            moment.second == 0
            and moment.minute in minutes
            and moment.hour in HOURS[hour]
            and (moment.weekday() + 1) % 7 in WEEKDAYS[weekday]
        )

    expression = f"{','.join(map(str, sorted(minutes)))} {hour} * * {weekday}"
    found = next_fire(parse_cron(expression), float(start), UTC)
    assert found > start
    assert matches(found)
    probe = (start // 60 + 1) * 60
    while probe < found:  # no earlier whole minute matches
        assert not matches(probe)
        probe += 60
