"""The Request node's typed request contract (newer runners).

Per declared parameter name the node may carry ``ptype-<name>`` (``* string number boolean object array
date``, anything else is ``*``), ``preq-<name>`` (required) and ``pdef-<name>`` (a default, as text). The
contract is checked after authentication and before the graph runs: values are coerced to their type,
absent ones (``null`` counts as absent) take their default, and what cannot be satisfied fails the run
with 400 and one entry per problem in ``fields``. Undeclared keys pass through untouched.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sidecar.runtime.values import js_json_parse, js_stringify, js_to_number, js_to_string

TYPES = ("*", "string", "number", "boolean", "object", "array", "date")
_NO_VALUE = object()  # a coercion that failed


@dataclass(frozen=True, slots=True)
class Declaration:
    name: str
    type: str = "*"
    required: bool = False
    default: str | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """One entry of the failure's ``fields``."""

    name: str
    code: str  # "missing" or "type"
    expected: str
    received: str

    def describe(self) -> str:
        if self.code == "missing":
            return f'"{self.name}" is required'
        return f'"{self.name}" expects {self.expected}, received {self.received}'

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "code": self.code, "expected": self.expected, "received": self.received}


def parameter_names(value: Any) -> list[str]:
    """The ``params`` list: split on commas, empties dropped, duplicates dropped, no trimming."""
    if not isinstance(value, str):
        return []
    return list(dict.fromkeys(name for name in value.split(",") if name))


def declared_type(value: Any) -> str:
    return value if isinstance(value, str) and value in TYPES else "*"


def apply(declarations: list[Declaration], params: object) -> tuple[object, list[Problem]]:
    """The parameters with declared ones coerced and defaulted, and the problems found (none: valid)."""
    if not any(d.type != "*" or d.required or d.default is not None for d in declarations):
        return params, []  # nothing declared: the body passes as it came
    values: dict[str, Any] = dict(params) if isinstance(params, dict) else {}
    problems: list[Problem] = []
    for declaration in declarations:
        value = values.get(declaration.name)
        if value is None:  # absent, or null
            if declaration.default is not None:
                value = declaration.default
            elif declaration.required:
                problems.append(Problem(declaration.name, "missing", declaration.type, "undefined"))
                continue
            else:
                continue
        coerced = _COERCIONS[declaration.type](value)
        if coerced is _NO_VALUE:
            problems.append(Problem(declaration.name, "type", declaration.type, received_type(value)))
        else:
            values[declaration.name] = coerced
    if not isinstance(params, dict) and not values:
        return params, problems  # a body that is not an object, and no default applied
    return values, problems


def failure_body(problems: list[Problem]) -> str:
    message = "Invalid request body: " + "; ".join(problem.describe() for problem in problems)
    return js_stringify({"error": message, "fields": [problem.to_json() for problem in problems]}) or "{}"


def received_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# ---- coercions: each returns the coerced value or _NO_VALUE ---------------------------------------


def _to_string(value: Any) -> Any:
    """``String(value)`` for text, numbers and booleans; objects and arrays as their JSON."""
    return js_stringify(value) if isinstance(value, dict | list) else js_to_string(value)


def _to_number(value: Any) -> Any:
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and value.strip():
        number = js_to_number(value.strip())
        if math.isfinite(number):
            return number
    return _NO_VALUE


def _to_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return _NO_VALUE


def _parsed(kind: type) -> Callable[[Any], Any]:
    def coerce(value: Any) -> Any:
        if isinstance(value, str):  # JSON.parse, never eval
            try:
                value = js_json_parse(value)
            except ValueError:
                return _NO_VALUE
        return value if isinstance(value, kind) else _NO_VALUE

    return coerce


def _to_date(value: Any) -> Any:
    """A Date, as the ISO text ``JSON.stringify`` gives it: from an ISO string or epoch milliseconds."""
    if isinstance(value, bool):
        return _NO_VALUE
    try:
        if isinstance(value, int | float):
            moment = datetime.fromtimestamp(value / 1000, tz=UTC)
        elif isinstance(value, str):
            text = value.strip()
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                # As in JavaScript: a date alone is UTC, a date-time without an offset is local time.
                moment = moment.replace(tzinfo=UTC) if "T" not in text else moment.astimezone()
        else:
            return _NO_VALUE
    except (ValueError, OverflowError, OSError):
        return _NO_VALUE
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_COERCIONS: Mapping[str, Callable[[Any], Any]] = {
    "*": lambda value: value,
    "string": _to_string,
    "number": _to_number,
    "boolean": _to_boolean,
    "object": _parsed(dict),
    "array": _parsed(list),
    "date": _to_date,
}
