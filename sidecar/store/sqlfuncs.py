"""Python functions registered on every SQLite connection: regex, text search, geodesy.

They are deterministic and take only bound values, so the compiled SQL stays parameterised.
"""

from __future__ import annotations

import functools
import json
import math
import re
import sqlite3

from sidecar.errors import InvalidJsonError, InvalidQueryError

_QUOTED_SPAN = re.compile(r"\\Q(.*?)(?:\\E|$)", re.DOTALL)
_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "x": re.VERBOSE, "s": re.DOTALL}
EARTH_RADIUS_KM = 6371.0


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
    except re.error as exc:
        raise InvalidJsonError(f"bad regex: {exc}") from exc
    return pattern, options


@functools.lru_cache(maxsize=256)
def compile_regex(pattern: str, options: str) -> re.Pattern[str]:
    flags = 0
    for letter in options:
        flags |= _FLAGS[letter]
    return re.compile(translate_pattern(pattern), flags)


def _regexp(pattern: str, options: str, value: object) -> int:
    return int(isinstance(value, str) and compile_regex(pattern, options).search(value) is not None)


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
