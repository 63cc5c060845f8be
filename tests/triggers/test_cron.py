"""Cron evaluation: the contract's field rules, strictly-after, horizon, and DST in a named zone."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from sidecar.errors import InvalidCronError
from sidecar.triggers import next_fire, parse_cron

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def at(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=zone).timestamp()


def local(instant: float, zone: ZoneInfo = STOCKHOLM) -> str:
    return datetime.fromtimestamp(instant, zone).isoformat()


def fires(expression: str, start: float, count: int, zone: ZoneInfo = STOCKHOLM) -> list[float]:
    spec = parse_cron(expression)
    found, instant = [], start
    for _ in range(count):
        instant = next_fire(spec, instant, zone)
        found.append(instant)
    return found


def test_next_fire_is_strictly_after_a_matching_instant() -> None:
    noon = at(STOCKHOLM, 2026, 1, 5, 12, 0)
    assert local(next_fire(parse_cron("0 12 * * *"), noon, STOCKHOLM)) == "2026-01-06T12:00:00+01:00"


def test_day_of_month_and_day_of_week_combine_with_or() -> None:
    # 2026-01-01 is a Thursday: the 13th or any Friday.
    found = fires("0 9 13 * FRI", at(STOCKHOLM, 2026, 1, 1, 0, 0), 3)
    assert [local(f) for f in found] == [
        "2026-01-02T09:00:00+01:00",
        "2026-01-09T09:00:00+01:00",
        "2026-01-13T09:00:00+01:00",
    ]


def test_day_of_week_seven_is_sunday_and_names_are_accepted() -> None:
    start = at(STOCKHOLM, 2026, 1, 1, 0, 0)
    assert fires("0 0 * * 7", start, 2) == fires("0 0 * * SUN", start, 2) == fires("0 0 * JAN 0", start, 2)


@pytest.mark.parametrize(
    ("preset", "equivalent"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@minutely", "* * * * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
    ],
)
def test_presets_match_their_five_field_forms(preset: str, equivalent: str) -> None:
    start = at(STOCKHOLM, 2026, 2, 3, 4, 5)
    assert fires(preset, start, 3) == fires(equivalent, start, 3)


def test_a_leading_seconds_field_fires_on_seconds() -> None:
    start = at(STOCKHOLM, 2026, 1, 1, 0, 0) + 0.25
    assert [f - start + 0.25 for f in fires("*/5 * * * * *", start, 3)] == [5.0, 10.0, 15.0]


def test_no_fire_within_four_years_is_an_error() -> None:
    with pytest.raises(InvalidCronError, match="no next fire within 4 years"):
        next_fire(parse_cron("0 0 30 2 *"), at(STOCKHOLM, 2026, 1, 1, 0, 0), STOCKHOLM)


@pytest.mark.parametrize("expression", ["61 * * * *", "* * *", "every minute", "* * * * * * *", "0 0 32 * *"])
def test_invalid_expressions_are_refused(expression: str) -> None:
    with pytest.raises(InvalidCronError):
        parse_cron(expression)


def test_every_minute_across_both_dst_changes_fires_once_per_real_minute() -> None:
    for start in (at(STOCKHOLM, 2026, 3, 29, 0, 0), at(STOCKHOLM, 2026, 10, 25, 0, 0)):
        found = fires("* * * * *", start, 6 * 60)
        assert all(later - earlier == 60 for earlier, later in itertools.pairwise(found))


def test_a_daily_job_in_the_spring_forward_gap_runs_once_at_the_change() -> None:
    found = fires("30 2 * * *", at(STOCKHOLM, 2026, 3, 28, 12, 0), 2)
    assert [local(f) for f in found] == ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]


def test_a_daily_job_in_the_repeated_fall_back_hour_runs_once() -> None:
    found = fires("30 2 * * *", at(STOCKHOLM, 2026, 10, 24, 12, 0), 2)
    assert [local(f) for f in found] == ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]


def test_an_hourly_job_also_runs_in_the_repeated_hour() -> None:
    found = fires("15 * * * *", at(STOCKHOLM, 2026, 10, 25, 1, 0), 3)
    assert [local(f) for f in found] == [
        "2026-10-25T01:15:00+02:00",
        "2026-10-25T02:15:00+02:00",
        "2026-10-25T02:15:00+01:00",
    ]


def test_evaluation_follows_the_given_zone() -> None:
    start = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    new_york = ZoneInfo("America/New_York")
    assert local(next_fire(parse_cron("0 9 * * *"), start, new_york), new_york) == "2026-06-01T09:00:00-04:00"
