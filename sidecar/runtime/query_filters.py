"""Parse where clauses built from the editor's visual filters, and matched locally (pure functions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sidecar import safe_regex
from sidecar.runtime.objects import Model
from sidecar.runtime.values import (
    UNDEFINED,
    js_at_most,
    js_less_than,
    js_loose_equals,
    js_to_string,
    strict_equals,
)

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


class LocalFilterError(Exception):
    """Noodl's ``matchesQuery`` throws for this where (``equal to`` null reads ``__type`` of null): the
    Filter Records node then leaves its outputs as they were."""


def matches(model: Model, where: Any) -> bool:
    """Local ``matchesQuery``; ``$lte`` and ``$nin`` use their own operands (quirk #19 fixed). The
    other rules are Noodl's, recorded from the real runner: ``$eq``/``$ne`` compare loosely,
    ``$exists`` only asks whether the value is defined (``not exist`` too), ``$regex`` tests the
    pattern's and the value's text (``String(null)`` is ``"null"``), and ``$eq: null`` throws."""
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
        if target is None:
            raise LocalFilterError(key)
        if isinstance(target, dict) and target.get("__type") == "Pointer":
            return strict_equals(value, target.get("objectId"))
        return js_loose_equals(value, target)  # loose, as Noodl's: a port often gives "3" for 3
    checks: dict[str, Callable[[Any], bool]] = {
        "$ne": lambda t: not js_loose_equals(value, t),
        "$lt": lambda t: js_less_than(value, t),
        "$lte": lambda t: js_at_most(value, t),
        "$gt": lambda t: js_less_than(t, value),
        "$gte": lambda t: js_at_most(t, value),
        "$exists": lambda t: value is not UNDEFINED,  # Noodl ignores the operand: "not exist" too
        "$in": lambda t: isinstance(t, list) and any(strict_equals(value, item) for item in t),  # indexOf
        "$nin": lambda t: isinstance(t, list) and not any(strict_equals(value, item) for item in t),
        "$regex": lambda t: _regex_search(t, cond, value),
    }
    return all(check(cond[op]) for op, check in checks.items() if op in cond)


def _regex_search(pattern: Any, cond: dict[str, Any], value: Any) -> bool:
    """Checked and compiled as the store's ``$regex`` (a bomb is refused, 102) and tried on the value's
    text, as Noodl's ``RegExp.test(String(value))``; the match runs on the event loop, so it stops after
    ``REGEX_MATCH_SECONDS`` and a value it could not decide does not match."""
    options = "i" if "i" in str(cond.get("$options") or "") else ""
    compiled = safe_regex.compile_pattern(js_to_string(pattern), options)  # new RegExp(2) is /2/
    try:
        return compiled.search(js_to_string(value), timeout=REGEX_MATCH_SECONDS) is not None
    except TimeoutError:
        return False


def compare_records(sort: tuple[str, ...]) -> Callable[[Model, Model], int]:
    """Noodl's ``compareObjects``: by each key in turn with JavaScript's ``>``/``<``; a ``-`` key is
    descending. Values that neither order (undefined, NaN, mixed types) count as equal."""

    def compare(a: Model, b: Model) -> int:
        for key in sort:
            descending = key.startswith("-")
            prop = key[1:] if descending else key
            left, right = a.get(prop), b.get(prop)
            if js_less_than(right, left):
                return -1 if descending else 1
            if js_less_than(left, right):
                return 1 if descending else -1
        return 0

    return compare
