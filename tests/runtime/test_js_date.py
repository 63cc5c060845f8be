"""Date strings read as ``new Date(string)`` reads them in V8, the real CloudRunner's engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sidecar.runtime.js_date import parse_date_string

LOCAL = None  # a naive answer: the time is local, as JavaScript reads a string without an offset


@pytest.mark.parametrize(
    ("text", "expected", "zone"),
    [
        # ISO: a date alone is UTC, a date and time without an offset is local.
        ("2024-03-09", datetime(2024, 3, 9), UTC),
        ("2024-03", datetime(2024, 3, 1), UTC),
        ("2024", datetime(2024, 1, 1), UTC),
        ("2024-03-09T10:30", datetime(2024, 3, 9, 10, 30), LOCAL),
        ("2024-03-09T10:30:15.250Z", datetime(2024, 3, 9, 10, 30, 15, 250_000), UTC),
        ("2024-03-09T10:30:00+02:00", datetime(2024, 3, 9, 10, 30), timezone(timedelta(hours=2))),
        ("2015-02-31", datetime(2015, 3, 3), UTC),  # V8 lets the day run over into March
        # The legacy grammar browsers accept.
        ("3/9/2024", datetime(2024, 3, 9), LOCAL),
        ("2024/3/9", datetime(2024, 3, 9), LOCAL),
        ("2024-3-9", datetime(2024, 3, 9), LOCAL),
        ("2024-03-09 10:30", datetime(2024, 3, 9, 10, 30), LOCAL),
        ("March 9, 2024", datetime(2024, 3, 9), LOCAL),
        ("9 March 2024", datetime(2024, 3, 9), LOCAL),
        ("Mar 9 2024 4:05 PM", datetime(2024, 3, 9, 16, 5), LOCAL),
        ("12/25/99", datetime(1999, 12, 25), LOCAL),
        ("Sat, 09 Mar 2024 10:30:00 GMT", datetime(2024, 3, 9, 10, 30), UTC),
        (
            "Sat Mar 09 2024 10:30:00 GMT+0100 (Central European Standard Time)",
            datetime(2024, 3, 9, 10, 30),
            timezone(timedelta(hours=1)),
        ),
        ("2/31/2024", datetime(2024, 3, 2), LOCAL),
        ("March 2024", datetime(2024, 3, 1), LOCAL),
        ("March 9", datetime(2001, 3, 9), LOCAL),  # V8's year for a date without one
        # Numbers alone (recorded from V8): missing parts are 1; a first number that cannot be a day
        # is the year, else the month; years below 50 are 20xx, 50 to 99 are 19xx, by value.
        ("5", datetime(2001, 5, 1), LOCAL),
        ("0", datetime(2000, 1, 1), LOCAL),
        ("32/5", datetime(2032, 5, 1), LOCAL),
        ("5 6 7", datetime(2007, 5, 6), LOCAL),
        ("0/5/6", datetime(2000, 5, 6), LOCAL),
        ("005", datetime(2001, 5, 1), LOCAL),
        ("100", datetime(100, 1, 1), LOCAL),
        ("Jan 0", datetime(2000, 1, 1), LOCAL),
        ("5 Jan", datetime(2001, 1, 5), LOCAL),
        ("5.5", datetime(2001, 5, 5), LOCAL),
        (" 2024-03-05", datetime(2024, 3, 5), LOCAL),  # not ISO with a space: the legacy grammar's
        ("2024-03-05t07:08:09z", datetime(2024, 3, 5, 7, 8, 9), UTC),
        ("2024-03-05T07:08:09.000+0100", datetime(2024, 3, 5, 7, 8, 9), timezone(timedelta(hours=1))),
    ],
)
def test_a_date_string_reads_as_in_javascript(text: str, expected: datetime, zone: timezone | None) -> None:
    assert parse_date_string(text) == expected.replace(tzinfo=zone)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "2024-13-01",
        "13/40/2024",
        "10:30",
        "2024-03-09T25:00",
        "1/2/3/4",
        # recorded from V8: a month above 12, a day above 31, no number at all
        "13",
        "31",
        "5 99",
        "0 0 0",
        "Jan",
        # an ISO date and time is exact or nothing: no surrounding space, two-digit hours, a full offset
        " 2024-03-05T07:08",
        "2024-03-05T07:08:09Z ",
        "2024-03-05T7:08:09",
        "2024-03-05T07:08:09+01",
        "2024-03-05 T07:08",
        "5 t 6",
    ],
)
def test_strings_javascript_cannot_read_are_invalid_dates(text: str) -> None:
    assert parse_date_string(text) is None
