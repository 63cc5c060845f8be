"""``new Date(string)`` as V8 (the engine of the real CloudRunner) reads a date string.

Two grammars, tried in order, as V8 does:

1. **ISO 8601** (``2024-03-09``, ``2024-03-09T10:30``, ``…Z``, ``…+02:00``): a date alone is UTC, a
   date with a time and no offset is local time.
2. **The legacy grammar** for everything else: numbers, month and weekday names, ``AM``/``PM``,
   ``UTC``/``GMT``/``Z`` and ``±hhmm`` offsets, parenthesised comments, in any of the orders browsers
   accept (``3/9/2024``, ``2024/3/9``, ``March 9, 2024 10:30``, ``Sat, 09 Mar 2024 10:30:00 GMT``,
   ``Sat Mar 09 2024 10:30:00 GMT+0100 (CET)``). Without an offset the time is local.

The answer is an aware ``datetime`` (when the string fixed the instant) or a naive one in local
time; ``None`` where JavaScript gives ``Invalid Date``. Day overflow is JavaScript's: ``2/31/2024``
is the 2nd of March.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_ISO = re.compile(
    r"(?P<year>[+-]\d{6}|\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?"
    r"(?:[Tt](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
    r"(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?)?",
    re.ASCII,
)
_TOKEN = re.compile(r"\s+|\([^)]*\)|\d+|[A-Za-z]+|.", re.ASCII)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_UTC_WORDS = {"utc", "ut", "gmt", "z"}


def parse_date_string(text: str) -> datetime | None:
    """The instant ``new Date(text)`` gives, or ``None`` for ``Invalid Date``."""
    iso = _ISO.fullmatch(text)  # exactly: " 2024-03-05T07:08" (or a trailing space) is Invalid Date
    if iso is not None:
        return _from_iso(iso)
    return _from_legacy(text.strip())


def _from_iso(match: re.Match[str]) -> datetime | None:
    parts = match.groupdict()
    fraction = int((parts["fraction"] or "0")[:3].ljust(3, "0"))
    clock = (int(parts["hour"] or 0), int(parts["minute"] or 0), int(parts["second"] or 0))
    moment = _calendar(int(parts["year"]), int(parts["month"] or 1), int(parts["day"] or 1), clock)
    if moment is None:
        return None
    moment += timedelta(milliseconds=fraction)
    zone = parts["zone"]
    if zone is None:
        # A date alone is UTC; a date and time without an offset is local time.
        return moment.replace(tzinfo=UTC) if parts["hour"] is None else moment
    offset = _offset(zone)
    return None if offset is None else moment.replace(tzinfo=offset)


def _calendar(year: int, month: int, day: int, clock: tuple[int, int, int]) -> datetime | None:
    """The moment, with JavaScript's day overflow (the 31st of February is in March)."""
    hour, minute, second = clock
    if not (1 <= month <= 12 and 1 <= day <= 31 and minute < 60 and second < 60):
        return None
    if hour > 24 or (hour == 24 and (minute or second)):
        return None
    try:
        return datetime(year, month, 1) + timedelta(days=day - 1, hours=hour, minutes=minute, seconds=second)
    except (ValueError, OverflowError):
        return None


def _offset(zone: str) -> timezone | None:
    """``Z``, ``±hh``, ``±hhmm`` or ``±hh:mm``; None when out of range."""
    if zone.upper() == "Z":
        return UTC
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = (int(digits), 0) if len(digits) <= 2 else (int(digits[:-2]), int(digits[-2:]))
    if hours >= 24 or minutes >= 60:
        return None
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


class _Legacy:
    """What the legacy scan has read so far."""

    def __init__(self) -> None:
        self.numbers: list[str] = []  # the date's numbers, in order
        self.month: int | None = None  # from a month name
        self.time: list[int] = []
        self.meridiem: str | None = None
        self.zone: timezone | None = None


def _from_legacy(text: str) -> datetime | None:
    state = _Legacy()
    tokens = [t for t in _TOKEN.findall(text) if not t.isspace() and not t.startswith("(")]
    index = 0
    while index < len(tokens):
        index = _read(tokens, index, state)
        if index < 0:
            return None
    return _compose(state)


def _read(tokens: list[str], index: int, state: _Legacy) -> int:
    """Read the token at ``index`` into ``state``; the next index, or -1 when the string is invalid."""
    token = tokens[index]
    following = tokens[index + 1] if index + 1 < len(tokens) else ""
    if token.isdigit():
        if following == ":" and not state.time:
            return _read_time(tokens, index, state)
        state.numbers.append(token)
        return index + 1
    if token.isalpha():
        return index + 1 if _read_word(token.lower(), state) else -1
    if token in "+-" and following.isdigit() and (state.time or state.zone is not None):
        return _read_offset(tokens, index, state)  # 10:30 +0100, GMT+0100, GMT+01:00
    if token in ",./-":
        return index + 1
    return -1


def _read_offset(tokens: list[str], index: int, state: _Legacy) -> int:
    """A sign and hh, hhmm or hh:mm starting at ``index``."""
    sign, digits = tokens[index], tokens[index + 1]
    index += 2
    if len(digits) <= 2 and tokens[index : index + 1] == [":"] and _digits_at(tokens, index + 1):
        digits += tokens[index + 1]
        index += 2
    offset = _offset(sign + digits) if len(digits) <= 4 else None
    if offset is None:
        return -1
    state.zone = offset
    return index


def _read_time(tokens: list[str], index: int, state: _Legacy) -> int:
    """hh:mm[:ss[.fff]] starting at ``index``."""
    values = [int(tokens[index])]
    index += 1
    while len(values) < 3 and tokens[index : index + 1] == [":"] and _digits_at(tokens, index + 1):
        values.append(int(tokens[index + 1]))
        index += 2
    if tokens[index : index + 1] == ["."] and _digits_at(tokens, index + 1):
        index += 2  # milliseconds: below what Date To String shows
    state.time = values + [0] * (3 - len(values))
    return index


def _digits_at(tokens: list[str], index: int) -> bool:
    return index < len(tokens) and tokens[index].isdigit()


def _read_word(word: str, state: _Legacy) -> bool:
    if word in ("am", "pm"):
        state.meridiem = word
    elif word in _UTC_WORDS:
        state.zone = UTC
    elif word[:3] in _MONTHS and len(word) >= 3:
        state.month = _MONTHS.index(word[:3]) + 1
    elif word[:3] in _WEEKDAYS and len(word) >= 3:
        pass  # a weekday name is read and ignored
    else:
        return False
    return True


def _compose(state: _Legacy) -> datetime | None:
    date = _date_parts(state)
    if date is None:
        return None
    hour, minute, second = state.time or [0, 0, 0]
    if state.meridiem is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if state.meridiem == "pm" else 0)
    moment = _calendar(*date, (hour, minute, second))
    if moment is None:
        return None
    return moment.replace(tzinfo=state.zone) if state.zone is not None else moment


def _date_parts(state: _Legacy) -> tuple[int, int, int] | None:
    """(year, month, day) from the numbers read and a month name, by V8's rule: one to three numbers,
    the missing ones counting as 1; a first number that cannot be a day (1-31) is the year, otherwise
    it is the month (or, after a month name, the day). So "5" is May 1st 2001, "0" and "2024" are
    New Year's days, "March 9" is in 2001 and "9 March 2024" and "2024/3/9" read as people expect."""
    numbers = [int(n) for n in state.numbers]
    if not 1 <= len(numbers) <= 3:
        return None
    first, second, third = numbers + [1] * (3 - len(numbers))
    starts_with_day = 1 <= first <= 31
    if state.month is not None:
        month = state.month
        day, year = (first, second) if starts_with_day else (second, first)
    elif starts_with_day:
        month, day, year = first, second, third  # 3/9/2024
    else:
        year, month, day = first, second, third  # 2024/3/9
    return _full_year(year), month, day


def _full_year(year: int) -> int:
    """Years 0 to 49 are 2000 to 2049, 50 to 99 are 1950 to 1999 (V8's rule, by value)."""
    if 0 <= year <= 49:
        return year + 2000
    if 50 <= year <= 99:
        return year + 1900
    return year
