"""Per-operator predicates on one operand (see :mod:`sidecar.store.operands`).

Values are compared within their type only (Mongo's type brackets): a number never equals a string, a
Boolean never equals a Number. A value that cannot match the column's type yields a constant-false
predicate rather than an error, as Mongo does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sidecar.errors import IncorrectTypeError, InvalidJsonError
from sidecar.store.codec import (
    dump_json,
    geopoint_coordinates,
    is_number,
    normalise_iso,
    polygon_ring,
    to_sql,
    type_tag,
)
from sidecar.store.names import join_table, quote
from sidecar.store.operands import ArrayColumn, Column, JsonValue, Missing, Operand, RelationField
from sidecar.store.sqlfrag import FALSE, TRUE, Sql, all_of, any_of, fmt, negate, sql
from sidecar.store.sqlfuncs import EARTH_RADIUS_KM, check_regex

GEO_OPERATORS = frozenset(
    {
        "$nearSphere",
        "$maxDistance",
        "$maxDistanceInRadians",
        "$maxDistanceInKilometers",
        "$maxDistanceInMiles",
        "$within",
        "$geoWithin",
        "$geoIntersects",
    }
)
FIELD_OPERATORS = (
    frozenset(
        {
            "$eq",
            "$ne",
            "$lt",
            "$lte",
            "$gt",
            "$gte",
            "$in",
            "$nin",
            "$exists",
            "$all",
            "$containedBy",
            "$regex",
            "$options",
            "$text",
            "$select",
            "$dontSelect",
            "$inQuery",
            "$notInQuery",
        }
    )
    | GEO_OPERATORS
)
"""Every operator a field's constraint object may hold, whichever database compiles it."""

_COMPARATORS = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}
_NO_MATCH = object()
_UNITS = {
    "yr": 365 * 86400,
    "year": 365 * 86400,
    "wk": 7 * 86400,
    "week": 7 * 86400,
    "d": 86400,
    "day": 86400,
    "hr": 3600,
    "hour": 3600,
    "min": 60,
    "minute": 60,
    "sec": 1,
    "second": 1,
}


def relative_time(text: Any, now: datetime) -> str:
    """``"in 2 days"``, ``"3 hours ago"``, ``"now"`` → ISO instant (bad text → 107)."""
    if not isinstance(text, str):
        raise InvalidJsonError("$relativeTime should be a string")
    words = text.lower().split()
    if words == ["now"]:
        return normalise_iso(now.isoformat())
    future, past = words[:1] == ["in"], words[-1:] == ["ago"]
    if future == past:
        raise InvalidJsonError("Time should either start with 'in' or end with 'ago'")
    words = words[1:] if future else words[:-1]
    if not words or len(words) % 2:
        raise InvalidJsonError(f"Invalid relative time: {text}")
    seconds = 0.0
    for amount, unit in zip(words[::2], words[1::2], strict=True):
        base = _UNITS.get(unit.rstrip("s")) or _UNITS.get(unit)
        if base is None or not re.fullmatch(r"\d+(\.\d+)?", amount):
            raise InvalidJsonError(f"Invalid relative time: {text}")
        seconds += float(amount) * base
    delta = timedelta(seconds=seconds)
    return normalise_iso((now + delta if future else now - delta).isoformat())


@dataclass(frozen=True)
class Predicates:
    now: datetime

    # ---- value classification -------------------------------------------------------------

    def _date_value(self, value: Any) -> str | None:
        if isinstance(value, Mapping) and "$relativeTime" in value:
            return relative_time(value["$relativeTime"], self.now)
        if type_tag(value) == "Date" and isinstance(value.get("iso"), str):
            return normalise_iso(value["iso"])
        if isinstance(value, str):
            try:
                return normalise_iso(value)
            except IncorrectTypeError:
                return None
        return None

    def _column_param(self, column: Column, value: Any) -> Any:
        """The stored form ``value`` would have in ``column``, or ``_NO_MATCH`` across types."""
        kind = column.type
        if kind == "Date":
            iso = self._date_value(value)
            return _NO_MATCH if iso is None else iso
        if kind == "Pointer":
            if type_tag(value) != "Pointer" or not isinstance(value.get("objectId"), str):
                return _NO_MATCH
            if column.target_class not in (None, value.get("className")):
                return _NO_MATCH
            return value["objectId"]
        if kind == "String":
            return value if isinstance(value, str) else _NO_MATCH
        if kind == "Number":
            return float(value) if is_number(value) and math.isfinite(value) else _NO_MATCH
        if kind == "Boolean":
            return int(value) if isinstance(value, bool) else _NO_MATCH
        try:
            return to_sql(kind, value, "", "")
        except (IncorrectTypeError, InvalidJsonError):
            return _NO_MATCH

    def _element(self, value_sql: str, type_sql: str, value: Any, op: str = "=") -> Sql:
        """A JSON element (of an array, or at a path) compared with a query value."""
        if value is None:
            return sql(f"{type_sql} IS 'null'") if op == "=" else FALSE
        if isinstance(value, bool):
            flag = "(" + type_sql + " IS 'true')"
            if op == "=":
                return sql(f"{type_sql} IS ?", "true" if value else "false")
            return sql(f"{type_sql} IN ('true', 'false') AND {flag} {op} ?", int(value))
        if is_number(value):
            return sql(f"{type_sql} IN ('integer', 'real') AND {value_sql} {op} ?", value)
        if isinstance(value, str):
            return sql(f"{type_sql} IS 'text' AND {value_sql} {op} ?", value)
        iso = self._date_value(value) if isinstance(value, Mapping) else None
        if iso is not None:
            return sql(
                f"{type_sql} IS 'object' AND json_extract({value_sql}, '$.__type') IS 'Date' "
                f"AND json_extract({value_sql}, '$.iso') {op} ?",
                iso,
            )
        if op != "=":
            return FALSE
        if type_tag(value) == "Pointer":
            return sql(
                f"{type_sql} IS 'object' AND json_extract({value_sql}, '$.__type') IS 'Pointer' "
                f"AND json_extract({value_sql}, '$.className') IS ? "
                f"AND json_extract({value_sql}, '$.objectId') IS ?",
                value.get("className"),
                value.get("objectId"),
            )
        return sql(f"{type_sql} IN ('array', 'object') AND json({value_sql}) IS json(?)", dump_json(value))

    def _json_any(self, operand: JsonValue, value: Any, op: str) -> Sql:
        """The value at a path matches, or (Mongo) one element of the array at that path does."""
        direct = self._element(operand.value_sql, operand.type_sql, value, op)
        elements = self._element("e.value", "e.type", value, op)
        if elements == FALSE:
            return direct
        inner = fmt(
            f"{operand.type_sql} IS 'array' AND EXISTS (SELECT 1 FROM json_each({operand.column_sql}, "
            f"{operand.path}) AS e WHERE {{}})",
            elements,
        )
        return any_of([direct, inner])

    def _array_any(self, column_sql: str, condition: Sql) -> Sql:
        if condition == FALSE:
            return FALSE
        return fmt(f"EXISTS (SELECT 1 FROM json_each({column_sql}) AS e WHERE {{}})", condition)

    # ---- operators ---------------------------------------------------------------------------

    def eq(self, operand: Operand, value: Any) -> Sql:
        if isinstance(operand, Missing):
            return TRUE if value is None else FALSE
        if isinstance(operand, RelationField):
            return self._relation_members(operand, [value])
        if isinstance(operand, JsonValue):
            if value is None:
                return sql(f"{operand.type_sql} IS 'null'")
            return self._json_any(operand, value, "=")
        if isinstance(operand, ArrayColumn):
            if value is None:
                return any_of(
                    [
                        sql(f"{operand.sql} IS NULL"),
                        self._array_any(operand.sql, self._element("e.value", "e.type", None)),
                    ]
                )
            whole = sql(f"{operand.sql} IS ?", dump_json(value)) if isinstance(value, list) else FALSE
            return any_of([whole, self._array_any(operand.sql, self._element("e.value", "e.type", value))])
        if value is None:
            return sql(f"{operand.sql} IS NULL")
        param = self._column_param(operand, value)
        return FALSE if param is _NO_MATCH else sql(f"{operand.sql} IS ?", param)

    def compare(self, operand: Operand, op: str, value: Any) -> Sql:
        symbol = _COMPARATORS[op]
        if value is None:
            return self.eq(operand, None) if op in ("$lte", "$gte") else FALSE
        if isinstance(value, list) or (isinstance(value, Mapping) and self._date_value(value) is None):
            raise InvalidJsonError(f"bad {op} value")
        if isinstance(operand, Missing | RelationField):
            return FALSE
        if isinstance(operand, JsonValue):
            return self._json_any(operand, value, symbol)
        if isinstance(operand, ArrayColumn):
            return self._array_any(operand.sql, self._element("e.value", "e.type", value, symbol))
        if operand.type not in ("String", "Number", "Boolean", "Date"):
            return FALSE
        param = self._column_param(operand, value)
        if param is _NO_MATCH:
            return FALSE
        # The comparison first: a scan of a column without an index tests it on every row it visits, and
        # the NULL test (which keeps the predicate two-valued under NOT) then only runs on rows that match.
        return sql(f"{operand.sql} {symbol} ? AND {operand.sql} IS NOT NULL", param)

    def in_(self, operand: Operand, choices: Any) -> Sql:
        if not isinstance(choices, list):
            raise InvalidJsonError("bad $in value")
        if isinstance(operand, RelationField):
            return self._relation_members(operand, choices)
        if isinstance(operand, Column):
            params = [
                p
                for p in (self._column_param(operand, c) for c in choices if c is not None)
                if p is not _NO_MATCH
            ]
            parts = [sql(f"{operand.sql} IS NULL")] if None in choices else []
            if params:
                marks = ", ".join("?" * len(params))
                parts.append(sql(f"{operand.sql} IN ({marks}) AND {operand.sql} IS NOT NULL", *params))
            return any_of(parts)
        return any_of(self.eq(operand, choice) for choice in choices)

    def exists(self, operand: Operand, flag: Any) -> Sql:
        if not isinstance(flag, bool):
            raise InvalidJsonError("$exists must be a boolean")
        if isinstance(operand, Missing):
            present = FALSE
        elif isinstance(operand, RelationField):
            present = TRUE
        elif isinstance(operand, JsonValue):
            present = sql(f"{operand.type_sql} IS NOT 'null'")
        else:
            present = sql(f"{operand.sql} IS NOT NULL")
        return present if flag else negate(present)

    def all_(self, operand: Operand, choices: Any) -> Sql:
        if not isinstance(choices, list):
            raise InvalidJsonError("bad $all value")
        regexes = [
            isinstance(c, Mapping) and set(c) <= {"$regex", "$options"} and "$regex" in c for c in choices
        ]
        if any(regexes) and not all(regexes):
            raise InvalidJsonError("All $all values must be of regex type or none: " + dump_json(choices))
        if not choices:
            return FALSE
        if all(regexes):
            return all_of(self.regex(operand, c["$regex"], c.get("$options")) for c in choices)
        return all_of(self.eq(operand, choice) for choice in choices)

    def contained_by(self, operand: Operand, choices: Any) -> Sql:
        if not isinstance(choices, list):
            raise InvalidJsonError("bad $containedBy: should be an array")
        if not choices:
            return FALSE
        if isinstance(operand, ArrayColumn):
            member = any_of(self._element("e.value", "e.type", c) for c in choices)
            outsider = self._array_any(operand.sql, negate(member))
            return all_of([sql(f"{operand.sql} IS NOT NULL"), negate(outsider)])
        if isinstance(operand, Column):
            return self.in_(operand, choices)
        return FALSE

    def regex(self, operand: Operand, pattern: Any, options: Any) -> Sql:
        pattern, options = check_regex(pattern, options)
        if isinstance(operand, Column):
            if operand.type != "String":
                return FALSE
            return sql(f"parse_regexp(?, ?, {operand.sql})", pattern, options)
        if isinstance(operand, ArrayColumn):
            return self._array_any(
                operand.sql, sql("e.type IS 'text' AND parse_regexp(?, ?, e.value)", pattern, options)
            )
        if isinstance(operand, JsonValue):
            direct = sql(
                f"{operand.type_sql} IS 'text' AND parse_regexp(?, ?, {operand.value_sql})", pattern, options
            )
            inner = sql(
                f"{operand.type_sql} IS 'array' AND EXISTS (SELECT 1 FROM json_each("
                f"{operand.column_sql}, {operand.path}) AS e WHERE e.type IS 'text' AND "
                "parse_regexp(?, ?, e.value))",
                pattern,
                options,
            )
            return any_of([direct, inner])
        return FALSE

    def text(self, operand: Operand, arg: Any) -> tuple[Sql, Sql | None]:
        """The ``$text`` condition and its relevance expression (for ``order=$score``)."""
        search = arg.get("$search") if isinstance(arg, Mapping) else None
        if not isinstance(search, Mapping):
            raise InvalidJsonError("$text: $search must be an object")
        term = search.get("$term")
        if not isinstance(term, str):
            raise InvalidJsonError("$text: $term must be a string")
        case_sensitive = search.get("$caseSensitive", False)
        if not isinstance(case_sensitive, bool):
            raise InvalidJsonError("$text: $caseSensitive must be a boolean")
        if not (isinstance(operand, Column) and operand.type == "String"):
            return FALSE, None
        flag = int(case_sensitive)
        return (
            sql(f"parse_text_match(?, ?, {operand.sql})", term, flag),
            sql(f"parse_text_score(?, ?, {operand.sql})", term, flag),
        )

    def in_subquery(self, operand: Operand, subquery: Sql) -> Sql:
        if isinstance(operand, Column):
            return fmt(f"{operand.sql} IS NOT NULL AND {operand.sql} IN ({{}})", subquery)
        if isinstance(operand, ArrayColumn):
            return fmt(
                f"EXISTS (SELECT 1 FROM json_each({operand.sql}) AS e WHERE e.value IN ({{}}))", subquery
            )
        return FALSE

    # ---- relations -----------------------------------------------------------------------

    def _relation_members(self, operand: RelationField, pointers: list[Any]) -> Sql:
        ids = [
            p["objectId"]
            for p in pointers
            if type_tag(p) == "Pointer"
            and isinstance(p.get("objectId"), str)
            and p.get("className") in (None, operand.target_class)
        ]
        if not ids:
            return FALSE
        join = quote(join_table(operand.owner_class, operand.field_name))
        marks = ", ".join("?" * len(ids))
        return sql(
            f'{operand.alias}."objectId" IN (SELECT "owningId" FROM {join} WHERE "relatedId" IN ({marks}))',
            *ids,
        )

    # ---- geo -------------------------------------------------------------------------------

    def _geo_column(self, operand: Operand, kind: str = "GeoPoint") -> Column | None:
        return operand if isinstance(operand, Column) and operand.type == kind else None

    def near_sphere(
        self, operand: Operand, point: Any, siblings: Mapping[str, Any]
    ) -> tuple[Sql, Sql | None]:
        lat, lng = geo_point(point)
        radius = max_distance(siblings)
        column = self._geo_column(operand)
        if column is None:
            return FALSE, None
        distance = sql(f"parse_geo_distance({column.sql}, ?, ?)", lat, lng)
        present = sql(f"{column.sql} IS NOT NULL")
        if radius is None:
            return present, distance
        return all_of([present, Sql(f"{distance.text} <= ?", (*distance.params, radius))]), distance

    def within(self, operand: Operand, arg: Any) -> Sql:
        box = arg.get("$box") if isinstance(arg, Mapping) else None
        if not isinstance(box, list) or len(box) != 2:
            raise InvalidJsonError("bad $within: $box needs exactly two points")
        (south, west), (north, east) = geo_point(box[0]), geo_point(box[1])
        column = self._geo_column(operand)
        if column is None:
            return FALSE
        return sql(
            f"{column.sql} IS NOT NULL AND json_extract({column.sql}, '$[0]') BETWEEN ? AND ? "
            f"AND json_extract({column.sql}, '$[1]') BETWEEN ? AND ?",
            south,
            north,
            west,
            east,
        )

    def geo_within(self, operand: Operand, arg: Any) -> Sql:
        if not isinstance(arg, Mapping) or not ({"$polygon", "$centerSphere"} & set(arg)):
            raise InvalidJsonError("bad $geoWithin value; $polygon or $centerSphere should be provided")
        column = self._geo_column(operand)
        if "$centerSphere" in arg:
            center, radius = center_sphere(arg["$centerSphere"])
            if column is None:
                return FALSE
            return sql(
                f"{column.sql} IS NOT NULL AND parse_geo_distance({column.sql}, ?, ?) <= ?",
                center[0],
                center[1],
                radius,
            )
        ring = polygon_argument(arg["$polygon"])
        if column is None:
            return FALSE
        return sql(f"{column.sql} IS NOT NULL AND parse_point_in_polygon(?, {column.sql})", dump_json(ring))

    def geo_intersects(self, operand: Operand, arg: Any) -> Sql:
        point = arg.get("$point") if isinstance(arg, Mapping) else None
        lat, lng = geo_point(point)
        column = self._geo_column(operand, "Polygon")
        if column is None:
            return FALSE
        return sql(f"parse_polygon_contains({column.sql}, ?, ?)", lat, lng)


def geo_point(value: Any) -> tuple[float, float]:
    try:
        return geopoint_coordinates(value)
    except IncorrectTypeError as exc:
        raise InvalidJsonError(f"bad GeoPoint: {exc.message}") from exc


def lnglat(value: Any) -> tuple[float, float]:
    """A GeoPoint or a GeoJSON-order ``[longitude, latitude]`` pair → (lat, lng)."""
    if isinstance(value, list) and len(value) == 2 and all(is_number(c) for c in value):
        return float(value[1]), float(value[0])
    return geo_point(value)


def max_distance(siblings: Mapping[str, Any]) -> float | None:
    for key, divisor in (
        ("$maxDistance", 1.0),
        ("$maxDistanceInRadians", 1.0),
        ("$maxDistanceInKilometers", EARTH_RADIUS_KM),
        ("$maxDistanceInMiles", 3959.0),
    ):
        if key in siblings and siblings[key] is not None:
            if not is_number(siblings[key]):
                raise InvalidJsonError(f"bad {key} value")
            return float(siblings[key]) / divisor
    return None


def center_sphere(arg: Any) -> tuple[tuple[float, float], float]:
    if not (isinstance(arg, list) and len(arg) == 2 and is_number(arg[1])):
        raise InvalidJsonError("bad $geoWithin value; $centerSphere should be an array of [point, distance]")
    return lnglat(arg[0]), float(arg[1])


def polygon_argument(arg: Any) -> list[list[float]]:
    if type_tag(arg) == "Polygon":
        try:
            return polygon_ring(arg)
        except IncorrectTypeError as exc:
            raise InvalidJsonError(exc.message) from exc
    if not isinstance(arg, list) or len(arg) < 3:
        raise InvalidJsonError("bad $geoWithin value; $polygon should contain at least 3 GeoPoints")
    return [list(lnglat(point)) for point in arg]
