"""A deliberately plain Python evaluation of Mongo query semantics, the oracle for the where compiler.

Only what the property tests generate is modelled: scalars, arrays of scalars, one level of nested
objects, Dates, and the operators eq ne lt lte gt gte in nin exists all containedBy regex or and nor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MISSING = object()


def lookup(doc: Mapping[str, Any], key: str) -> Any:
    value: Any = doc
    for segment in key.split("."):
        if not isinstance(value, Mapping) or segment not in value:
            return MISSING
        value = value[segment]
    return value


def _bracket(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping) and value.get("__type") == "Date":
        return "date"
    return type(value).__name__


def _comparable(value: Any) -> Any:
    return value["iso"] if _bracket(value) == "date" else value


def same(a: Any, b: Any) -> bool:
    if _bracket(a) != _bracket(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(_comparable(a) == _comparable(b))


def _absent(value: Any) -> bool:
    return value is MISSING or value is None


def eq(value: Any, target: Any) -> bool:
    if target is None:
        return _absent(value) or (isinstance(value, list) and None in value)
    if _absent(value):
        return False
    if isinstance(value, list):
        return same(value, target) or any(same(item, target) for item in value)
    return same(value, target)


def compare(value: Any, op: str, target: Any) -> bool:
    if target is None:
        return eq(value, None) if op in ("$lte", "$gte") else False
    candidates = value if isinstance(value, list) else [value]
    for item in candidates:
        if _absent(item) or _bracket(item) != _bracket(target):
            continue
        a, b = _comparable(item), _comparable(target)
        if {"$lt": a < b, "$lte": a <= b, "$gt": a > b, "$gte": a >= b}[op]:
            return True
    return False


def regex(value: Any, pattern: str, options: str) -> bool:
    python = re.sub(r"\\Q(.*?)\\E", lambda m: re.escape(m.group(1)), pattern)
    flags = re.IGNORECASE if "i" in options else 0
    candidates = value if isinstance(value, list) else [value]
    return any(isinstance(item, str) and re.search(python, item, flags) for item in candidates)


def field_matches(value: Any, constraint: Any) -> bool:
    if not (isinstance(constraint, Mapping) and any(str(k).startswith("$") for k in constraint)):
        return eq(value, constraint)
    results = []
    for op, arg in constraint.items():
        if op == "$eq":
            results.append(eq(value, arg))
        elif op == "$ne":
            results.append(not eq(value, arg))
        elif op in ("$lt", "$lte", "$gt", "$gte"):
            results.append(compare(value, op, arg))
        elif op == "$in":
            results.append(any(eq(value, item) for item in arg))
        elif op == "$nin":
            results.append(not any(eq(value, item) for item in arg))
        elif op == "$exists":
            results.append((not _absent(value)) == arg)
        elif op == "$all":
            results.append(bool(arg) and all(eq(value, item) for item in arg))
        elif op == "$containedBy":
            results.append(
                bool(arg)
                and isinstance(value, list)
                and all(any(same(item, c) for c in arg) for item in value)
            )
        elif op == "$regex":
            results.append(regex(value, arg, constraint.get("$options", "")))
        elif op == "$options":
            continue
        else:
            raise AssertionError(f"model does not know {op}")
    return all(results)


def matches(doc: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    for key, constraint in where.items():
        if key == "$or":
            ok = any(matches(doc, sub) for sub in constraint)
        elif key == "$and":
            ok = all(matches(doc, sub) for sub in constraint)
        elif key == "$nor":
            ok = not any(matches(doc, sub) for sub in constraint)
        else:
            ok = field_matches(lookup(doc, key), constraint)
        if not ok:
            return False
    return True
