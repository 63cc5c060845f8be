"""Cron expressions evaluated in a named time zone.

Fields: 5 (minute hour day-of-month month day-of-week), or 6 with a leading seconds field. Presets
``@yearly @annually @monthly @weekly @daily @midnight @hourly @minutely``. When day-of-month and day-of-week
are both restricted they combine with OR. The next fire is strictly after the given instant; none within
4 years is an error.

croniter walks naive wall-clock times (pure calendar arithmetic, no DST confusion); this module maps each
wall time to real instants:

- a wall time inside a spring-forward gap does not exist: it fires at the transition instant, so a daily
  02:30 job still runs that day and an every-minute job fires once, not 60 times;
- a wall time repeated by a fall-back fold fires on its first occurrence only, unless the hour field is
  ``*`` (a job meant for every hour also runs in the repeated hour, as Vixie cron does).
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from types import ModuleType
from typing import Any

from sidecar.errors import InvalidCronError
from sidecar.lazy import Lazy

_CRONITER: Lazy[ModuleType] = Lazy(lambda: importlib.import_module("croniter"))
"""The croniter library, loaded by the first schedule (a backend without one never needs it)."""

PRESETS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
    "@minutely": "* * * * *",
}
HORIZON_YEARS = 4
_HORIZON = timedelta(days=366 * HORIZON_YEARS)
_SWING_PROBE = 3 * 3600.0  # wider than any DST shift in the tz database (at most 2 h)


@dataclass(frozen=True)
class CronSpec:
    expression: str
    """As the user wrote it (used in payloads and source labels)."""
    fields: str
    """Normalised field text handed to croniter."""
    has_seconds: bool
    every_hour: bool
    """The hour field is unrestricted: fire in both occurrences of a repeated (fall-back) hour."""


def parse_cron(expression: str) -> CronSpec:
    """Validate an expression; raises :class:`InvalidCronError` naming what is wrong."""
    text = " ".join(expression.split())
    fields = PRESETS.get(text.lower(), text)
    parts = fields.split(" ")
    if len(parts) not in (5, 6):
        raise InvalidCronError(f"cron {expression!r} must have 5 fields (or 6 with leading seconds)")
    has_seconds = len(parts) == 6
    cron = _CRONITER.get()
    try:
        cron.croniter(fields, datetime(2000, 1, 1), second_at_beginning=has_seconds)
    except (cron.CroniterError, ValueError, KeyError) as error:
        raise InvalidCronError(f"invalid cron {expression!r}: {error}") from error
    hour_field = parts[2] if has_seconds else parts[1]
    return CronSpec(expression, fields, has_seconds, hour_field in ("*", "*/1"))


def next_fire(spec: CronSpec, after: float, zone: tzinfo) -> float:
    """The first fire instant (epoch seconds) strictly after ``after``."""
    wall = _wall(after, zone)
    # Only inside the first pass of a repeated hour can an earlier wall time (its second occurrence) or a
    # later one (still in the first pass) beat the first candidate; everywhere else the first wins.
    careful = spec.every_hour and _in_first_pass_of_fold(after, zone)
    walls = _walker(spec.fields, spec.has_seconds)
    bad_date = _CRONITER.get().CroniterBadDateError
    walls.set_current(wall - _offset_swing(after, zone) if careful else wall, force=True)
    best: float | None = None
    stop: datetime | None = None
    while True:
        try:
            candidate: datetime = walls.get_next(datetime)
        except bad_date as error:
            raise InvalidCronError(
                f"cron {spec.expression!r}: no next fire within {HORIZON_YEARS} years"
            ) from error
        if candidate > wall + _HORIZON:
            raise InvalidCronError(f"cron {spec.expression!r}: no next fire within {HORIZON_YEARS} years")
        if stop is not None and candidate > stop:
            assert best is not None
            return best
        later = [instant for instant in _instants(candidate, zone, spec.every_hour) if instant > after]
        if not later:
            continue
        if not careful:
            return min(later)
        best = min(later) if best is None else min(best, *later)
        stop = stop or _wall(best, zone) + _offset_swing(best, zone)


@functools.lru_cache(maxsize=4096)
def _walker(fields: str, has_seconds: bool) -> Any:
    """A croniter over naive wall times; parsing an expression costs more than walking it, so each
    expression is parsed once and the walker repositioned (safe: the event loop runs one call at a time)."""
    return _CRONITER.get().croniter(
        fields,
        datetime(2000, 1, 1),
        day_or=True,
        second_at_beginning=has_seconds,
        max_years_between_matches=HORIZON_YEARS,
    )


def _in_first_pass_of_fold(instant: float, zone: tzinfo) -> bool:
    moment = datetime.fromtimestamp(instant, zone)
    return moment.fold == 0 and moment.replace(fold=1).utcoffset() != moment.utcoffset()


def _wall(instant: float, zone: tzinfo) -> datetime:
    return datetime.fromtimestamp(instant, zone).replace(tzinfo=None)


def _offset_swing(instant: float, zone: tzinfo) -> timedelta:
    """How far the zone's UTC offset moves within 3 h of ``instant`` (zero away from DST changes)."""
    offsets = [
        datetime.fromtimestamp(instant + delta, zone).utcoffset() or timedelta(0)
        for delta in (-_SWING_PROBE, 0.0, _SWING_PROBE)
    ]
    return max(offsets) - min(offsets)


def _instants(wall: datetime, zone: tzinfo, every_hour: bool) -> tuple[float, ...]:
    first = wall.replace(tzinfo=zone, fold=0).timestamp()
    second = wall.replace(tzinfo=zone, fold=1).timestamp()
    if first == second:
        return (first,)
    if _wall(first, zone) != wall:  # inside a spring-forward gap
        return (_transition(min(first, second), max(first, second), zone),)
    return (first, second) if every_hour else (first,)


def _transition(before: float, after: float, zone: tzinfo) -> float:
    """The instant the UTC offset changes, between two instants with different offsets (whole seconds)."""
    low, high = int(before), int(after)
    low_offset = datetime.fromtimestamp(low, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == low_offset:
            low = middle
        else:
            high = middle
    return float(high)
