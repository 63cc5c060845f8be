"""Parse REST values ↔ SQLite column values, per field type.

Storage: String TEXT, Number REAL, Boolean INTEGER 0/1, Date TEXT ISO-8601, Pointer TEXT objectId, Bytes TEXT
base64; Object, Array, File, GeoPoint and Polygon as JSON text. Relation has no column (join table).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from sidecar.errors import IncorrectTypeError, InvalidNestedKeyError
from sidecar.jsontext import compact_encoder

FIELD_TYPES = frozenset(
    {
        "String",
        "Number",
        "Boolean",
        "Date",
        "Object",
        "Array",
        "Pointer",
        "Relation",
        "File",
        "GeoPoint",
        "Polygon",
        "Bytes",
    }
)
JSON_TYPES = frozenset({"Object", "Array", "File", "GeoPoint", "Polygon"})
SQL_AFFINITY = {
    "String": "TEXT",
    "Number": "REAL",
    "Boolean": "INTEGER",
    "Date": "TEXT",
    "Pointer": "TEXT",
    "Bytes": "TEXT",
    "Object": "TEXT",
    "Array": "TEXT",
    "File": "TEXT",
    "GeoPoint": "TEXT",
    "Polygon": "TEXT",
}


def now_iso() -> str:
    return format_iso(datetime.now(UTC))


def format_iso(moment: datetime) -> str:
    """Parse's timestamp form: UTC with milliseconds and ``Z`` (sorts correctly as text)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def normalise_iso(text: str) -> str:
    """Any ISO-8601 instant → Parse's canonical form, so stored dates compare as text."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise IncorrectTypeError(f"invalid date: {text}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_iso(moment)


_encode_json = compact_encoder(allow_nan=False)


def dump_json(value: Any) -> str:
    """Canonical JSON text used for storage and for comparing stored JSON with query values.

    Integral floats are written as integers: Parse numbers are doubles, so ``1.0`` and ``1`` are one value
    and must compare equal as text too.
    """
    return _encode_json(_canonical_numbers(value))


def _canonical_numbers(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if kind is list:
        return [_canonical_numbers(item) for item in value]
    if kind is dict:
        return {key: _canonical_numbers(item) for key, item in value.items()}
    return value


def _stored_json(value: Any) -> Any:
    """``_canonical_numbers`` that also refuses ``$`` and ``.`` in keys of nested objects (code 121)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is list:
        return [_stored_json(item) for item in value]
    if kind is dict:
        if not type_tag(value):
            for key in value:
                if "$" in key or "." in key:
                    raise InvalidNestedKeyError(
                        f"Nested keys should not contain the '$' or '.' characters: {key}"
                    )
        return {key: _stored_json(item) for key, item in value.items()}
    return _canonical_numbers(value)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def type_tag(value: Any) -> str | None:
    return value.get("__type") if isinstance(value, dict) and isinstance(value.get("__type"), str) else None


_SIMPLE_TYPES = {str: "String", bool: "Boolean", int: "Number", float: "Number", list: "Array"}


def infer_type(value: Any) -> str | None:
    """The schema type a first write of ``value`` creates; ``None`` for null (no column)."""
    if value is None:
        return None
    simple = _SIMPLE_TYPES.get(type(value))
    if simple is not None:
        return simple
    if isinstance(value, bool):
        return "Boolean"
    if is_number(value):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        tag = type_tag(value)
        if tag is None:
            return "Object"
        if tag in ("Date", "Pointer", "File", "GeoPoint", "Polygon", "Bytes", "Relation"):
            return tag
        raise IncorrectTypeError(f"This is not a valid {tag}")
    raise IncorrectTypeError(f"unsupported value: {value!r}")


def to_sql(field_type: str, value: Any, field_name: str, class_name: str) -> Any:
    """Encode a non-null Parse value for a column of ``field_type``; a mismatch is code 111."""
    if field_type == "String" and type(value) is str:  # the common cases first, cheaply
        return value
    if field_type == "Number" and type(value) is int:
        return float(value)
    if field_type == "Boolean" and type(value) is bool:
        return 1 if value else 0
    if field_type == "Array" and type(value) is list and all(type(item) is str for item in value):
        return _encode_json(value)  # strings only (tags, names): nothing to canonicalise or refuse
    actual = infer_type(value)
    if actual != field_type:
        raise IncorrectTypeError(
            f"schema mismatch for {class_name}.{field_name}; expected {field_type} but got {actual}"
        )
    if field_type == "Number":
        if not math.isfinite(value):
            raise IncorrectTypeError(f"{class_name}.{field_name}: numbers must be finite")
        return float(value)
    if field_type == "Boolean":
        return 1 if value else 0
    if field_type == "String":
        return value
    if field_type == "Date":
        return normalise_iso(_string_member(value, "iso"))
    if field_type == "Pointer":
        return _string_member(value, "objectId")
    if field_type == "Bytes":
        return _string_member(value, "base64")
    if field_type == "GeoPoint":
        return dump_json(geopoint_coordinates(value))
    if field_type == "Polygon":
        return dump_json(polygon_ring(value))
    if field_type == "File":
        return dump_json({"name": _string_member(value, "name"), "url": value.get("url")})
    return _encode_json(_stored_json(value))


def from_sql(field_type: str, raw: Any, target_class: str | None) -> Any:
    """Decode a stored column value to its Parse REST form."""
    if field_type == "String":
        return raw
    if field_type == "Boolean":
        return bool(raw)
    if field_type == "Number":
        return int(raw) if float(raw).is_integer() and abs(raw) < 2**53 else raw
    if field_type == "Date":
        return {"__type": "Date", "iso": raw}
    if field_type == "Pointer":
        return {"__type": "Pointer", "className": target_class, "objectId": raw}
    if field_type == "Bytes":
        return {"__type": "Bytes", "base64": raw}
    if field_type == "GeoPoint":
        lat, lng = json.loads(raw)
        return {"__type": "GeoPoint", "latitude": lat, "longitude": lng}
    if field_type == "Polygon":
        return {"__type": "Polygon", "coordinates": json.loads(raw)}
    if field_type == "File":
        return {"__type": "File", **{k: v for k, v in json.loads(raw).items() if v is not None}}
    if field_type in ("Object", "Array"):
        return json.loads(raw)
    return raw


def geopoint_coordinates(value: Any) -> tuple[float, float]:
    """``(latitude, longitude)`` of a GeoPoint value, range-checked."""
    if type_tag(value) != "GeoPoint":
        raise IncorrectTypeError("This is not a valid GeoPoint")
    lat, lng = value.get("latitude"), value.get("longitude")
    if not (is_number(lat) and is_number(lng) and -90 <= lat <= 90 and -180 <= lng <= 180):
        raise IncorrectTypeError("GeoPoint latitude must be in [-90, 90] and longitude in [-180, 180]")
    return float(lat), float(lng)


def polygon_ring(value: Any) -> list[list[float]]:
    """A Polygon's ``[[lat, lng], …]`` ring, closed as Parse stores it."""
    coordinates = value.get("coordinates") if isinstance(value, dict) else None
    if not isinstance(coordinates, list) or len(coordinates) < 3:
        raise IncorrectTypeError("Polygon must have at least 3 values")
    ring = []
    for point in coordinates:
        if not (isinstance(point, list) and len(point) == 2 and all(is_number(c) for c in point)):
            raise IncorrectTypeError("Polygon coordinates must be [latitude, longitude] pairs")
        ring.append([float(point[0]), float(point[1])])
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return ring


def _string_member(value: dict[str, Any], key: str) -> str:
    member = value.get(key)
    if not isinstance(member, str):
        raise IncorrectTypeError(f"This is not a valid {value.get('__type')}: {key} must be a string")
    return member
