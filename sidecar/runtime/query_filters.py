"""Parse where clauses built from the editor's visual filters, and matched locally (pure functions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sidecar import safe_regex
from sidecar.runtime.objects import Model
from sidecar.runtime.values import UNDEFINED, js_to_string

REGEX_MATCH_SECONDS = 0.05
_VISUAL_OPERATORS = {
    "greater than": "$gt",
    "greater than or equal to": "$gte",
    "less than": "$lt",
    "less than or equal to": "$lte",
    "equal to": "$eq",
    "not equal to": "$ne",
}


def convert_visual_filter(query: Any, parameters: dict[str, Any], schema: dict[str, Any]) -> Any:
    """The editor's visual filter (rules with combinators) → a Parse where; ``None`` matches all."""
    if not isinstance(query, dict):
        return None
    if "combinator" in query and "rules" in query:
        rules = query["rules"] or []
        if not rules:
            return None
        if len(rules) == 1:
            return convert_visual_filter(rules[0], parameters, schema)
        converted = [convert_visual_filter(rule, parameters, schema) for rule in rules]
        return {"$" + str(query["combinator"]): [c for c in converted if c is not None]}
    operator, prop = query.get("operator"), query.get("property")
    value = (
        parameters.get(query["input"], UNDEFINED)
        if query.get("input") is not None
        else query.get("value", UNDEFINED)
    )
    if operator == "related to":
        if value is UNDEFINED:
            return None
        pointer = {"__type": "Pointer", "objectId": value, "className": query.get("relatedTo")}
        return {"$relatedTo": {"object": pointer, "key": query.get("relationProperty")}}
    if operator in ("exist", "not exist"):
        return {prop: {"$exists": operator == "exist"}}
    if value is UNDEFINED:
        return None
    found = schema.get(js_to_string(prop))
    spec: dict[str, Any] = found if isinstance(found, dict) else {}
    if spec.get("type") == "Date":
        value = {"__type": "Date", "iso": js_to_string(value)}
    if operator == "points to":
        condition: Any = {
            "$eq": {"__type": "Pointer", "objectId": value, "className": spec.get("targetClass")}
        }
    elif operator == "contain":
        condition = {"$regex": value, "$options": "i"}
    else:
        condition = {_VISUAL_OPERATORS[operator]: value} if operator in _VISUAL_OPERATORS else None
    return {prop: condition}


def visual_sorting(sorting: Any) -> tuple[str, ...]:
    if not isinstance(sorting, list):
        return ()
    return tuple(("-" if s.get("order") == "descending" else "") + str(s.get("property")) for s in sorting)


def matches(model: Model, where: Any) -> bool:
    """Local ``matchesQuery``; ``$lte`` and ``$nin`` use their own operands (quirk #19 fixed)."""
    if not where:
        return True
    if "$and" in where:
        return all(matches(model, q) for q in where["$and"])
    if "$or" in where:
        return any(matches(model, q) for q in where["$or"])
    return all(_matches_key(model, key, cond) for key, cond in where.items())


def _matches_key(model: Model, key: str, cond: Any) -> bool:
    if not isinstance(cond, dict):
        return True
    if key == "$relatedTo":
        return False  # relations cannot be resolved locally
    value = model.id if key == "objectId" else model.get(key)
    if "$eq" in cond:
        target = cond["$eq"]
        return value == (target.get("objectId") if isinstance(target, dict) else target)
    checks: dict[str, Callable[[Any], bool]] = {
        "$ne": lambda t: value != t,
        "$lt": lambda t: _compare(value, t) < 0,
        "$lte": lambda t: _compare(value, t) <= 0,
        "$gt": lambda t: _compare(value, t) > 0,
        "$gte": lambda t: _compare(value, t) >= 0,
        "$exists": lambda t: (value is not UNDEFINED) == bool(t),
        "$in": lambda t: value in t,
        "$nin": lambda t: value not in t,
        "$regex": lambda t: isinstance(value, str) and _regex_search(t, cond, value),
    }
    return all(check(cond[op]) for op, check in checks.items() if op in cond)


def _regex_search(pattern: Any, cond: dict[str, Any], value: str) -> bool:
    """Checked and compiled as the store's ``$regex`` (a bomb is refused, 102); the match runs on the event
    loop, so it stops after ``REGEX_MATCH_SECONDS`` and a value it could not decide does not match."""
    options = "i" if "i" in str(cond.get("$options") or "") else ""
    compiled = safe_regex.compile_pattern(pattern, options)
    try:
        return compiled.search(value, timeout=REGEX_MATCH_SECONDS) is not None
    except TimeoutError:
        return False


def _compare(left: Any, right: Any) -> int:
    try:
        return -1 if left < right else (1 if left > right else 0)
    except TypeError:
        return 2  # incomparable: every ordered comparison fails, as in JavaScript with NaN


def sort_key_of(prop: str) -> Callable[[Model], tuple[int, Any]]:
    return lambda model: _sort_key(model.get(prop))


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is UNDEFINED or value is None:
        return (0, 0)
    if isinstance(value, int | float):
        return (1, value)
    return (2, js_to_string(value))
