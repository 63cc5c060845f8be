"""Python functions registered on every SQLite connection: regex, text search, geodesy.

They are deterministic and take only bound values, so the compiled SQL stays parameterised.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sidecar import safe_regex
from sidecar.errors import InvalidJsonError

if TYPE_CHECKING:
    import regex

# A match outside any budget gets this long (the readers, ephemeral reads and the change matcher set one).
DEFAULT_REGEX_SECONDS = 1.0
EARTH_RADIUS_KM = 6371.0
_regex_state = threading.local()


def check_regex(pattern: object, options: object) -> tuple[str, str]:
    """Validate ``$regex``/``$options`` when the where compiles (see :mod:`sidecar.safe_regex`)."""
    if not isinstance(pattern, str):
        raise InvalidJsonError("bad regex")
    safe_regex.compile_pattern(pattern, options)
    return pattern, safe_regex.check_options(options)


@dataclass
class _Budget:
    remaining: float
    deadline: float


@contextlib.contextmanager
def regex_budget(seconds: float, deadline: float = math.inf) -> Iterator[None]:
    """Every regex match on this thread inside the block shares ``seconds`` of matching time (a query's
    budget, however many rows it tests) and stops at ``deadline`` (``time.monotonic``) at the latest; the
    match that runs out raises ``TimeoutError``, which :func:`take_regex_timeout` then reports."""
    _regex_state.budget = _Budget(seconds, deadline)
    try:
        yield
    finally:
        _regex_state.budget = None


def _regexp(pattern: str, options: str, value: object) -> int:
    if not isinstance(value, str):
        return 0
    budget: _Budget | None = getattr(_regex_state, "budget", None)
    started = time.monotonic()
    if budget is None:
        timeout = DEFAULT_REGEX_SECONDS
    else:
        timeout = max(0.0, min(budget.remaining, budget.deadline - started))
    try:
        return int(_compiled(pattern, options).search(value, timeout=timeout) is not None)
    except TimeoutError:
        _regex_state.timed_out = True  # SQLite only reports "user-defined function raised exception"
        raise
    finally:
        if budget is not None:
            budget.remaining -= time.monotonic() - started


def _compiled(pattern: str, options: str) -> regex.Pattern[str]:
    """The statement's pattern, called for every row: remembered per thread before the shared cache."""
    last: tuple[str, str, regex.Pattern[str]] | None = getattr(_regex_state, "last", None)
    if last is not None and last[0] == pattern and last[1] == options:
        return last[2]
    compiled = safe_regex.compile_pattern(pattern, options)
    _regex_state.last = (pattern, options, compiled)
    return compiled


def take_regex_timeout() -> bool:
    """Whether a regex match on this thread ran out of time since the last call."""
    timed_out: bool = getattr(_regex_state, "timed_out", False)
    _regex_state.timed_out = False
    return timed_out


def _text_match(term: str, case_sensitive: int, value: object) -> int:
    """Every whitespace-separated word of ``term`` occurs in ``value``."""
    if not isinstance(value, str):
        return 0
    words = term.split()
    if not case_sensitive:
        value, words = value.casefold(), [w.casefold() for w in words]
    return int(bool(words) and all(word in value for word in words))


def _text_score(term: str, case_sensitive: int, value: object) -> float:
    """Relevance for ``order=$score``: how often the search words occur in ``value``."""
    if not isinstance(value, str):
        return 0.0
    words = term.split()
    if not case_sensitive:
        value, words = value.casefold(), [w.casefold() for w in words]
    return float(sum(value.count(word) for word in words))


def great_circle_radians(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lng2 - lng1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * math.asin(min(1.0, math.sqrt(h)))


def _geo_distance(point_json: object, lat: float, lng: float) -> float | None:
    if not isinstance(point_json, str):
        return None
    plat, plng = json.loads(point_json)
    return great_circle_radians(plat, plng, lat, lng)


def point_in_ring(ring: list[list[float]], lat: float, lng: float) -> bool:
    """Even-odd rule over ``[[lat, lng], …]`` vertices."""
    inside = False
    for (alat, alng), (blat, blng) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (alng > lng) != (blng > lng) and lat < (blat - alat) * (lng - alng) / (blng - alng) + alat:
            inside = not inside
    return inside


def _point_in_polygon(ring_json: str, point_json: object) -> int:
    if not isinstance(point_json, str):
        return 0
    lat, lng = json.loads(point_json)
    return int(point_in_ring(json.loads(ring_json), lat, lng))


def _polygon_contains(polygon_json: object, lat: float, lng: float) -> int:
    if not isinstance(polygon_json, str):
        return 0
    return int(point_in_ring(json.loads(polygon_json), lat, lng))


def register(connection: sqlite3.Connection) -> None:
    connection.create_function("parse_regexp", 3, _regexp, deterministic=True)
    connection.create_function("parse_text_match", 3, _text_match, deterministic=True)
    connection.create_function("parse_text_score", 3, _text_score, deterministic=True)
    connection.create_function("parse_geo_distance", 3, _geo_distance, deterministic=True)
    connection.create_function("parse_point_in_polygon", 2, _point_in_polygon, deterministic=True)
    connection.create_function("parse_polygon_contains", 3, _polygon_contains, deterministic=True)
