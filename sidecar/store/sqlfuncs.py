"""Python functions registered on every SQLite connection: regex, text search, geodesy.

They are deterministic and take only bound values, so the compiled SQL stays parameterised.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import re
import sqlite3
import threading
import time
from collections.abc import Iterator

import regex

from sidecar.errors import InvalidJsonError, InvalidQueryError

_QUOTED_SPAN = re.compile(r"\\Q(.*?)(?:\\E|$)", re.DOTALL)
# Patterns run on the ``regex`` engine (``re``'s syntax and results) because it can stop a match after a
# time: a pattern that backtracks catastrophically would otherwise hold a thread for ever, inside a
# function call that SQLite's own interrupt cannot reach.
_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "x": regex.VERBOSE, "s": regex.DOTALL}
# A match outside any read deadline (the writer, the change matcher) gets this long.
DEFAULT_REGEX_SECONDS = 1.0
EARTH_RADIUS_KM = 6371.0
_regex_budget = threading.local()


def translate_pattern(pattern: str) -> str:
    r"""PCRE ``\Q…\E`` literal spans (what the SDK emits) → escaped Python regex text."""
    return _QUOTED_SPAN.sub(lambda m: re.escape(m.group(1)), pattern)


def check_regex(pattern: object, options: object) -> tuple[str, str]:
    """Validate ``$regex``/``$options`` at compile time: bad options → 102, bad pattern → 107."""
    if not isinstance(pattern, str):
        raise InvalidJsonError("bad regex")
    if options is None:
        options = ""
    if not isinstance(options, str) or any(letter not in _FLAGS for letter in options):
        raise InvalidQueryError(f"Bad $options value for query: {options}")
    try:
        compile_regex(pattern, options)
    except regex.error as exc:
        raise InvalidJsonError(f"bad regex: {exc}") from exc
    return pattern, options


@functools.lru_cache(maxsize=256)
def compile_regex(pattern: str, options: str) -> regex.Pattern[str]:
    flags = regex.VERSION0  # the ``re`` module's behaviour
    for letter in options:
        flags |= _FLAGS[letter]
    return regex.compile(translate_pattern(pattern), flags)


@contextlib.contextmanager
def regex_deadline(deadline: float) -> Iterator[None]:
    """Regex matches on this thread stop at ``deadline`` (``time.monotonic``) with ``TimeoutError``."""
    _regex_budget.deadline = deadline
    try:
        yield
    finally:
        _regex_budget.deadline = None


def _regexp(pattern: str, options: str, value: object) -> int:
    if not isinstance(value, str):
        return 0
    deadline = getattr(_regex_budget, "deadline", None)
    timeout = DEFAULT_REGEX_SECONDS if deadline is None else max(0.0, deadline - time.monotonic())
    try:
        return int(compile_regex(pattern, options).search(value, timeout=timeout) is not None)
    except TimeoutError:
        _regex_budget.timed_out = True  # SQLite only reports "user-defined function raised exception"
        raise


def take_regex_timeout() -> bool:
    """Whether a regex match on this thread ran out of time since the last call."""
    timed_out: bool = getattr(_regex_budget, "timed_out", False)
    _regex_budget.timed_out = False
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
