"""Parse ``where`` JSON → PostgreSQL SQL over the JSONB documents of :mod:`sidecar.store.postgres.tables`.

The semantics are the SQLite compiler's (:mod:`sidecar.store.where`), which stays the reference: Mongo type
brackets (a number never equals a string), equality on an Array matches the whole array or one element,
pointers compare by class and id, a missing field acts as null, ``$in []`` matches nothing and ``$nin []``
everything. Every predicate is wrapped to be two-valued (never SQL NULL), so ``NOT``/``$nor`` are exact. The
dialect-independent parts are shared, not copied: the size limits (:mod:`sidecar.store.query_limits`), the
regex safety check (:func:`sidecar.store.sqlfuncs.check_regex`), relative times, the constrained-field rule
and the class-level permissions. Anything not understood raises; a filter is never dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from sidecar.errors import IncorrectTypeError, InvalidJsonError, InvalidKeyNameError, InvalidQueryError
from sidecar.safe_regex import translate_pattern
from sidecar.store import clp, read_scope
from sidecar.store.codec import is_number, normalise_iso, type_tag
from sidecar.store.interface import CallerContext
from sidecar.store.names import is_valid_field_name, validate_class_name
from sidecar.store.predicates import (
    FIELD_OPERATORS,
    center_sphere,
    geo_point,
    max_distance,
    polygon_argument,
    relative_time,
)
from sidecar.store.query_limits import check_term_count, check_where
from sidecar.store.schema import ClassSchema
from sidecar.store.sqlfuncs import check_regex

SchemaLookup = Callable[[str], ClassSchema | None]
TRUE = "TRUE"
FALSE = "FALSE"
RECORDS = "noodl_records"
RELATIONS = "noodl_relations"

_COMPARATORS = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}
_TIMESTAMP_ALIASES = {"_created_at": "createdAt", "_updated_at": "updatedAt"}
_PLACEHOLDER = re.compile(r"\$\d+")
_COLUMNS = {"objectId": "object_id", "createdAt": "created_at", "updatedAt": "updated_at"}


class Params:
    """Bound parameters, numbered ``$1``… in the order they are added."""

    def __init__(self, first: list[Any] | None = None) -> None:
        self.values: list[Any] = list(first or [])
        self.text_scores: list[str] = []
        self.near_orders: list[str] = []
        """Distance to the ``$nearSphere`` point: the order when the query gives none."""
        """Relevance of each ``$text`` match compiled with these parameters (for ``order=$score``)."""

    def add(self, value: Any, cast: str = "") -> str:
        self.values.append(value)
        return f"${len(self.values)}{cast}"

    def finish(self, statement: str) -> tuple[str, list[Any]]:
        """The statement renumbered to the parameters it still uses, and those values: simplifying
        ``TRUE OR x`` drops ``x`` with its parameters, which PostgreSQL could not type."""
        used: dict[int, int] = {}
        for match in _PLACEHOLDER.finditer(statement):
            used.setdefault(int(match.group()[1:]), len(used) + 1)
        if len(used) == len(self.values):
            return statement, self.values
        text = _PLACEHOLDER.sub(lambda m: f"${used[int(m.group()[1:])]}", statement)
        values = [None] * len(used)
        for old, new in used.items():
            values[new - 1] = self.values[old - 1]
        return text, values

    def json(self, value: Any) -> str:
        """A JSON value as a ``jsonb`` parameter."""
        return self.add(orjson.dumps(value).decode(), "::jsonb")


def literal(text: str) -> str:
    """A validated field name as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def all_of(parts: list[str]) -> str:
    parts = [p for p in parts if p != TRUE]
    if FALSE in parts:
        return FALSE
    if not parts:
        return TRUE
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


def any_of(parts: list[str]) -> str:
    parts = [p for p in parts if p != FALSE]
    if TRUE in parts:
        return TRUE
    if not parts:
        return FALSE
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def negate(part: str) -> str:
    if part == TRUE:
        return FALSE
    if part == FALSE:
        return TRUE
    return f"(NOT {part})"


def visible(caller: CallerContext, alias: str, params: Params, column: str = "rperm") -> str:
    """Rows whose list is NULL (public) or names one of the caller's principals."""
    if caller.is_master:
        return TRUE
    principals = params.add(sorted(caller.principals()), "::text[]")
    return f"({alias}.{column} IS NULL OR {alias}.{column} && {principals})"


@dataclass(frozen=True)
class _Operand:
    """What a where key refers to: a system column (text), a JSONB path in the document, or a Relation."""

    kind: str
    """``column`` | ``json`` | ``relation``"""
    sql: str
    schema_type: str | None = None
    owner_class: str = ""
    field_name: str = ""
    alias: str = "t"


@dataclass
class _State:
    lookup: SchemaLookup
    caller: CallerContext
    params: Params
    now: datetime
    aliases: int = 0
    owner_rules: dict[str, str] = field(default_factory=dict)

    def next_alias(self) -> str:
        self.aliases += 1
        return f"s{self.aliases}"


def rows(state: _State, schema: ClassSchema, operation: str, alias: str) -> str:
    """The rows the caller may ``operation``: raises 119 when the class-level permission refuses it, else
    the pointer permissions, the row ACL and the class's own rules (``_Session``: one's own sessions)."""
    return scope_rows(state.caller, state.params, schema, operation, alias)


def scope_rows(
    caller: CallerContext,
    params: Params,
    schema: ClassSchema,
    operation: str,
    alias: str,
    *,
    find: bool = True,
) -> str:
    from sidecar.store import special_classes  # the same rules the SQLite path applies

    if find:  # refuses _Installation finds to clients, as the SQLite path does
        special_classes.find_scope(caller, schema.class_name, alias)
    owners = clp.read_owner_fields(schema.clp, operation, caller, schema.class_name)
    parts = [visible(caller, alias, params)]
    if owners is not None:
        if caller.user_id is None:
            return FALSE
        me = {"__type": "Pointer", "className": "_User", "objectId": caller.user_id}
        tests = [
            _eq(params, _json_operand(alias, name, spec.type), me)
            for name in owners
            if (spec := schema.field_type(name)) is not None and spec.type in ("Pointer", "Array")
        ]
        parts.append(any_of(tests))
    if schema.class_name == "_Session" and not caller.is_master:
        if caller.user_id is None:
            from sidecar.errors import InvalidSessionTokenError

            raise InvalidSessionTokenError("Invalid session token")
        parts.append(f"({alias}.doc->'user'->>'objectId') = {params.add(caller.user_id)}")
    return all_of(parts)


def compile_where(
    where: Any,
    class_name: str,
    lookup: SchemaLookup,
    caller: CallerContext,
    params: Params,
    *,
    alias: str = "t",
    now: datetime | None = None,
) -> str:
    check_where(where)
    state = _State(lookup, caller, params, now or datetime.now(UTC))
    condition = _compile(state, where, lookup(class_name), alias)
    check_term_count(len(_PLACEHOLDER.findall(condition)))  # one list parameter counts once
    return condition


def _compile(state: _State, where: Any, schema: ClassSchema | None, alias: str) -> str:
    if not isinstance(where, Mapping):
        raise InvalidQueryError("where must be a JSON object")
    read_scope.check_constrained_fields(schema, state.caller, where)
    return all_of([_compile_key(state, key, value, schema, alias) for key, value in where.items()])


def _compile_key(state: _State, key: str, value: Any, schema: ClassSchema | None, alias: str) -> str:
    if key in ("$or", "$and", "$nor"):
        if not isinstance(value, list) or not value or not all(isinstance(w, Mapping) for w in value):
            raise InvalidQueryError(f"Bad {key} format - use an array of at least 1 value.")
        parts = [_compile(state, sub, schema, alias) for sub in value]
        if key == "$and":
            return all_of(parts)
        return any_of(parts) if key == "$or" else negate(any_of(parts))
    if key == "$relatedTo":
        return _related_to(state, value, alias)
    if key.startswith("$"):
        raise InvalidKeyNameError(f"Invalid key name: {key}")
    operand = _resolve(schema, key, alias)
    if isinstance(value, Mapping) and any(str(k).startswith("$") for k in value):
        return _field_constraints(state, operand, value)
    return _eq(state.params, operand, value, state.now)


def _resolve(schema: ClassSchema | None, key: str, alias: str) -> _Operand:
    key = _TIMESTAMP_ALIASES.get(key, key)
    head = key.split(".", 1)[0]
    if head == "ACL":
        raise InvalidQueryError("Cannot query on ACL.")
    if not all(is_valid_field_name(part) for part in key.split(".")):
        raise InvalidKeyNameError(f"Invalid key name: {key}")
    if key in _COLUMNS:
        return _Operand("column", f"{alias}.{_COLUMNS[key]}", "Date" if key != "objectId" else "String")
    spec = schema.field_type(head) if schema is not None else None
    if spec is not None and spec.type == "Relation" and "." not in key:
        assert schema is not None
        return _Operand("relation", "", "Relation", schema.class_name, key, alias)
    if spec is not None and "." in key and spec.type != "Object":
        raise InvalidQueryError(f"Cannot use a dot path on {spec.type} field {head}")
    kind = spec.type if spec is not None and "." not in key else None
    return _json_operand(alias, key, kind)


def resolve_key(schema: ClassSchema, key: str) -> None:
    """Validate a field key as a where would (105/102 for a bad one)."""
    _resolve(schema, key, "t")


def _json_operand(alias: str, key: str, schema_type: str | None) -> _Operand:
    path = "".join(f"->{literal(part)}" for part in key.split("."))
    return _Operand("json", f"{alias}.doc{path}", schema_type)


def _field_constraints(state: _State, operand: _Operand, constraints: Mapping[str, Any]) -> str:
    literal_part = {k: v for k, v in constraints.items() if not str(k).startswith("$")}
    parts = [_eq(state.params, operand, literal_part, state.now)] if literal_part else []
    for op, arg in constraints.items():
        if op in literal_part:
            continue
        if op not in FIELD_OPERATORS:
            raise InvalidJsonError(f"bad constraint: {op}")
        parts.append(_one_constraint(state, operand, op, arg, constraints))
    return all_of(parts)


def _one_constraint(state: _State, operand: _Operand, op: str, arg: Any, siblings: Mapping[str, Any]) -> str:
    params, now = state.params, state.now
    if op == "$eq":
        return _eq(params, operand, arg, now)
    if op == "$ne":
        return negate(_eq(params, operand, arg, now))
    if op in ("$in", "$nin"):
        found = _in(params, operand, arg, now)
        return found if op == "$in" else negate(found)
    if op == "$exists":
        return _exists(operand, arg)
    if op == "$all":
        return _all(params, operand, arg, now)
    if op == "$containedBy":
        return _contained_by(params, operand, arg, now)
    if op in _COMPARATORS:
        return _compare(params, operand, op, arg, now)
    if op == "$regex":
        return _regex(params, operand, arg, siblings.get("$options"))
    if op == "$text":
        return _text(params, operand, arg)
    if op in ("$select", "$dontSelect"):
        found = _select(state, operand, arg)
        return found if op == "$select" else negate(found)
    if op in ("$inQuery", "$notInQuery"):
        found = _in_query(state, operand, arg)
        return found if op == "$inQuery" else negate(found)
    if op == "$nearSphere":
        return _near_sphere(params, operand, arg, siblings)
    if op == "$within":
        return _within(params, operand, arg)
    if op == "$geoWithin":
        return _geo_within(params, operand, arg)
    if op == "$geoIntersects":
        return _geo_intersects(params, operand, arg)
    return TRUE  # modifiers ($options, $maxDistance*) are read by their operator


# ---- values ----------------------------------------------------------------------------------------


def _date_value(value: Any, now: datetime) -> str | None:
    if isinstance(value, Mapping) and "$relativeTime" in value:
        return relative_time(value["$relativeTime"], now)
    if type_tag(value) == "Date" and isinstance(value.get("iso"), str):
        return normalise_iso(value["iso"])
    return None


def _stored_form(value: Any, now: datetime) -> Any:
    """A where value as a document stores it: pointers (and included objects) as bare pointers, dates
    normalised, integral numbers as integers."""
    tag = type_tag(value)
    if tag in ("Pointer", "Object") and isinstance(value.get("objectId"), str):
        return {"__type": "Pointer", "className": value.get("className"), "objectId": value["objectId"]}
    iso = _date_value(value, now) if isinstance(value, Mapping) else None
    if iso is not None:
        return {"__type": "Date", "iso": iso}
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _elements(json_sql: str) -> str:
    """The elements of a JSONB array (none when it is not an array), as rows of ``e``."""
    return f"jsonb_array_elements(CASE WHEN jsonb_typeof({json_sql}) = 'array' THEN {json_sql} END) AS e"


def _any_element(json_sql: str, condition: str) -> str:
    if condition == FALSE:
        return FALSE
    return f"EXISTS (SELECT 1 FROM {_elements(json_sql)} WHERE {condition})"


def _two_valued(condition: str) -> str:
    return f"COALESCE({condition}, FALSE)"


def _eq(params: Params, operand: _Operand, value: Any, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    if operand.kind == "relation":
        return _relation_members(params, operand, [value])
    if operand.kind == "column":
        if value is None:
            return FALSE
        text = _column_text(operand, value, now)
        return FALSE if text is None else f"{operand.sql} = {params.add(text)}"
    path = operand.sql
    if value is None:
        return f"({path} IS NULL OR {path} = 'null'::jsonb)"
    stored = _stored_form(value, now)
    if isinstance(stored, str | bool | int | float):
        if isinstance(stored, float) and not math.isfinite(stored):
            return FALSE
        # Containment: a scalar contains an equal scalar, a top-level array contains its scalar elements.
        return _two_valued(f"{path} @> {params.json(stored)}")
    mark = params.json(stored)
    return _two_valued(f"({path} = {mark} OR {_any_element(path, f'e = {mark}')})")


def _column_text(operand: _Operand, value: Any, now: datetime) -> str | None:
    """The text a system column would hold for ``value``; None across types."""
    if operand.schema_type == "Date":
        iso = _date_value(value, now)
        if iso is None and isinstance(value, str):
            try:
                iso = normalise_iso(value)
            except IncorrectTypeError:
                return None
        return iso
    return value if isinstance(value, str) else None


def _in(params: Params, operand: _Operand, choices: Any, now: datetime) -> str:
    if not isinstance(choices, list):
        raise InvalidJsonError("bad $in value")
    if operand.kind == "relation":
        return _relation_members(params, operand, choices)
    if operand.kind == "column":
        return any_of([_eq(params, operand, choice, now) for choice in choices])
    values = [_stored_form(c, now) for c in choices if c is not None]
    values = [v for v in values if not (is_number(v) and not math.isfinite(v))]
    parts = [_eq(params, operand, None, now)] if None in choices else []
    if values:  # one array parameter, however long the list
        mark = params.add([orjson.dumps(v).decode() for v in values], "::jsonb[]")
        path = operand.sql
        parts.append(_two_valued(f"({path} = ANY({mark}) OR {_any_element(path, f'e = ANY({mark})')})"))
    return any_of(parts)


def _exists(operand: _Operand, flag: Any) -> str:
    if not isinstance(flag, bool):
        raise InvalidJsonError("$exists must be a boolean")
    if operand.kind == "relation" or operand.kind == "column":
        present = TRUE
    else:
        present = f"({operand.sql} IS NOT NULL AND {operand.sql} <> 'null'::jsonb)"
    return present if flag else negate(present)


def _all(params: Params, operand: _Operand, choices: Any, now: datetime) -> str:
    if not isinstance(choices, list):
        raise InvalidJsonError("bad $all value")
    regexes = [isinstance(c, Mapping) and set(c) <= {"$regex", "$options"} and "$regex" in c for c in choices]
    if any(regexes) and not all(regexes):
        raise InvalidJsonError(
            "All $all values must be of regex type or none: " + orjson.dumps(choices).decode()
        )
    if not choices:
        return FALSE
    if all(regexes):
        return all_of([_regex(params, operand, c["$regex"], c.get("$options")) for c in choices])
    return all_of([_eq(params, operand, choice, now) for choice in choices])


def _contained_by(params: Params, operand: _Operand, choices: Any, now: datetime) -> str:
    if not isinstance(choices, list):
        raise InvalidJsonError("bad $containedBy: should be an array")
    if not choices:
        return FALSE
    if operand.kind != "json":
        return _in(params, operand, choices, now)
    path = operand.sql
    members = params.json([_stored_form(c, now) for c in choices])
    outsider = f"NOT EXISTS (SELECT 1 FROM {_elements(path)} WHERE NOT (jsonb_build_array(e) <@ {members}))"
    return _two_valued(f"(jsonb_typeof({path}) = 'array' AND {outsider})")


def _element_compare(params: Params, element: str, symbol: str, value: Any, now: datetime) -> str:
    """One JSONB value against a query value within its type bracket (CASE keeps casts in their bracket)."""
    if isinstance(value, bool):
        mark = params.add(value, "::boolean")
        return (
            f"(CASE WHEN jsonb_typeof({element}) = 'boolean' THEN ({element})::boolean {symbol} {mark} END)"
        )
    if is_number(value):
        if not math.isfinite(value):
            return FALSE
        mark = params.add(float(value), "::float8")
        return f"(CASE WHEN jsonb_typeof({element}) = 'number' THEN ({element})::float8 {symbol} {mark} END)"
    if isinstance(value, str):
        mark = params.add(value, "::text")
        return (
            f"(CASE WHEN jsonb_typeof({element}) = 'string' "
            f"THEN ({element} #>> '{{}}') COLLATE \"C\" {symbol} {mark} END)"
        )
    iso = _date_value(value, now)
    if iso is not None:
        mark = params.add(iso, "::text")
        return (
            f"(CASE WHEN jsonb_typeof({element}) = 'object' AND {element}->>'__type' = 'Date' "
            f"THEN ({element}->>'iso') COLLATE \"C\" {symbol} {mark} END)"
        )
    return FALSE


def _compare(params: Params, operand: _Operand, op: str, value: Any, now: datetime) -> str:
    symbol = _COMPARATORS[op]
    if value is None:
        return _eq(params, operand, None, now) if op in ("$lte", "$gte") else FALSE
    if isinstance(value, list) or (isinstance(value, Mapping) and _date_value(value, now) is None):
        raise InvalidJsonError(f"bad {op} value")
    if operand.kind == "relation":
        return FALSE
    if operand.kind == "column":
        text = _column_text(operand, value, now)
        return FALSE if text is None else f'{operand.sql} COLLATE "C" {symbol} {params.add(text)}'
    direct = _element_compare(params, operand.sql, symbol, value, now)
    inner = _any_element(operand.sql, _element_compare(params, "e", symbol, value, now))
    return _two_valued(any_of([direct, inner]))


def regex_flags(options: str) -> str:
    """Python/Mongo regex options as PostgreSQL embedded options (ARE): ``i`` and ``x`` as they are; ``m``
    and ``s`` through newline sensitivity (Python's default is PostgreSQL's partial mode ``p``)."""
    flags = "".join(flag for flag in "ix" if flag in options)
    multiline, dotall = "m" in options, "s" in options
    flags += {(False, False): "p", (False, True): "s", (True, False): "n", (True, True): "w"}[
        (multiline, dotall)
    ]
    return f"(?{flags})"


_PROPERTY_CLASSES = {
    "L": "[:alpha:]",
    "N": "[:digit:]",
    "Nd": "[:digit:]",
    "Lu": "[:upper:]",
    "Ll": "[:lower:]",
}
_PROPERTY = re.compile(r"\\([pP])\{(\w+)\}")


def pg_pattern(pattern: str) -> str:
    """A pattern the SQLite store's engine accepts, in PostgreSQL's ARE dialect: ``\\Q…\\E`` spans as
    escaped text (:func:`sidecar.safe_regex.translate_pattern`), the common Unicode classes ``\\p{L}`` …
    as POSIX classes. What PostgreSQL still refuses is a 102."""
    pattern = translate_pattern(pattern)

    def unicode_class(match: re.Match[str]) -> str:
        posix = _PROPERTY_CLASSES.get(match.group(2))
        if posix is None:
            raise InvalidQueryError(
                f"The PostgreSQL store cannot match \\{match.group(1)}{{{match.group(2)}}}"
            )
        return f"[{posix}]" if match.group(1) == "p" else f"[^{posix}]"

    return _PROPERTY.sub(unicode_class, pattern)


def _regex(params: Params, operand: _Operand, pattern: Any, options: Any) -> str:
    pattern, checked = check_regex(pattern, options)
    pattern = pg_pattern(pattern)
    if operand.kind == "relation":
        return FALSE
    mark = params.add(regex_flags(checked) + pattern, "::text")
    if operand.kind == "column":
        return f"{operand.sql} ~ {mark}"
    path = operand.sql

    def test(element: str) -> str:
        return f"(CASE WHEN jsonb_typeof({element}) = 'string' THEN ({element} #>> '{{}}') ~ {mark} END)"

    return _two_valued(any_of([test(path), _any_element(path, test("e"))]))


def _text(params: Params, operand: _Operand, arg: Any) -> str:
    """Every whitespace-separated word of ``$term`` occurs in the String field (as the SQLite store's
    ``parse_text_match``); the relevance is how often the words occur."""
    search = arg.get("$search") if isinstance(arg, Mapping) else None
    if not isinstance(search, Mapping):
        raise InvalidJsonError("$text: $search must be an object")
    term = search.get("$term")
    if not isinstance(term, str):
        raise InvalidJsonError("$text: $term must be a string")
    case_sensitive = search.get("$caseSensitive", False)
    if not isinstance(case_sensitive, bool):
        raise InvalidJsonError("$text: $caseSensitive must be a boolean")
    words = term.split()
    if operand.kind != "json" or operand.schema_type != "String" or not words:
        return FALSE
    text = f"({operand.sql} #>> '{{}}')" if case_sensitive else f"lower({operand.sql} #>> '{{}}')"
    marks = [params.add(w if case_sensitive else w.lower(), "::text") for w in words]
    params.text_scores.append(
        " + ".join(f"((length({text}) - length(replace({text}, {m}, ''))) / length({m}))" for m in marks)
    )
    return _two_valued(all_of([f"strpos({text}, {m}) > 0" for m in marks]))


# ---- geo (the SQLite store's argument checks, PostgreSQL's arithmetic) ----------------------------


def _geo_operand(operand: _Operand, kind: str = "GeoPoint") -> str | None:
    return operand.sql if operand.kind == "json" and operand.schema_type == kind else None


def _distance(path: str, params: Params, lat: float, lng: float) -> str:
    """Great-circle distance in radians from the GeoPoint at ``path`` to (lat, lng)."""
    return (
        f"noodl_great_circle(({path}->>'latitude')::float8, ({path}->>'longitude')::float8, "
        f"{params.add(lat, '::float8')}, {params.add(lng, '::float8')})"
    )


def _near_sphere(params: Params, operand: _Operand, point: Any, siblings: Mapping[str, Any]) -> str:
    lat, lng = geo_point(point)
    radius = max_distance(siblings)
    path = _geo_operand(operand)
    if path is None:
        return FALSE
    present = f"({path}->>'__type') = 'GeoPoint'"
    distance = _distance(path, params, lat, lng)
    params.near_orders.append(distance)
    if radius is None:
        return _two_valued(present)
    return _two_valued(f"({present} AND {distance} <= {params.add(radius, '::float8')})")


def _within(params: Params, operand: _Operand, arg: Any) -> str:
    box = arg.get("$box") if isinstance(arg, Mapping) else None
    if not isinstance(box, list) or len(box) != 2:
        raise InvalidJsonError("bad $within: $box needs exactly two points")
    (south, west), (north, east) = geo_point(box[0]), geo_point(box[1])
    path = _geo_operand(operand)
    if path is None:
        return FALSE
    lat, lng = f"({path}->>'latitude')::float8", f"({path}->>'longitude')::float8"
    marks = [params.add(v, "::float8") for v in (south, north, west, east)]
    return _two_valued(
        f"(CASE WHEN ({path}->>'__type') = 'GeoPoint' THEN {lat} BETWEEN {marks[0]} AND {marks[1]} "
        f"AND {lng} BETWEEN {marks[2]} AND {marks[3]} END)"
    )


def _geo_within(params: Params, operand: _Operand, arg: Any) -> str:
    if not isinstance(arg, Mapping) or not ({"$polygon", "$centerSphere"} & set(arg)):
        raise InvalidJsonError("bad $geoWithin value; $polygon or $centerSphere should be provided")
    path = _geo_operand(operand)
    if "$centerSphere" in arg:
        center, radius = center_sphere(arg["$centerSphere"])
        if path is None:
            return FALSE
        distance = _distance(path, params, center[0], center[1])
        return _two_valued(
            f"(CASE WHEN ({path}->>'__type') = 'GeoPoint' "
            f"THEN {distance} <= {params.add(radius, '::float8')} END)"
        )
    ring = polygon_argument(arg["$polygon"])
    if path is None:
        return FALSE
    return _two_valued(
        f"(CASE WHEN ({path}->>'__type') = 'GeoPoint' THEN noodl_point_in_ring({params.json(ring)}, "
        f"({path}->>'latitude')::float8, ({path}->>'longitude')::float8) END)"
    )


def _geo_intersects(params: Params, operand: _Operand, arg: Any) -> str:
    point = arg.get("$point") if isinstance(arg, Mapping) else None
    lat, lng = geo_point(point)
    path = _geo_operand(operand, "Polygon")
    if path is None:
        return FALSE
    return _two_valued(
        f"(CASE WHEN ({path}->>'__type') = 'Polygon' THEN noodl_point_in_ring({path}->'coordinates', "
        f"{params.add(lat, '::float8')}, {params.add(lng, '::float8')}) END)"
    )


# ---- other tables ---------------------------------------------------------------------------------


def _relation_members(params: Params, operand: _Operand, pointers: list[Any]) -> str:
    ids = [
        p["objectId"]
        for p in pointers
        if type_tag(p) in ("Pointer", "Object") and isinstance(p.get("objectId"), str)
    ]
    if not ids:
        return FALSE
    return (
        f"EXISTS (SELECT 1 FROM {RELATIONS} AS r WHERE r.class_name = {params.add(operand.owner_class)} "
        f"AND r.field = {params.add(operand.field_name)} AND r.owning_id = {operand.alias}.object_id "
        f"AND r.related_id = ANY({params.add(ids, '::text[]')}))"
    )


def _subquery_rows(state: _State, sub: Any, usage: str) -> tuple[str, str, ClassSchema] | None:
    if not isinstance(sub, Mapping) or not isinstance(sub.get("className"), str):
        raise InvalidQueryError(f"improper usage of {usage}")
    class_name = validate_class_name(sub["className"])
    schema = state.lookup(class_name)
    if schema is None:
        return None
    alias = state.next_alias()
    condition = all_of(
        [
            f"{alias}.class_name = {state.params.add(class_name)}",
            rows(state, schema, "find", alias),
            _compile(state, sub.get("where", {}), schema, alias),
        ]
    )
    return alias, condition, schema


def _in_query(state: _State, operand: _Operand, arg: Any) -> str:
    found = _subquery_rows(state, arg, "$inQuery")
    if found is None:
        return FALSE
    alias, condition, _ = found
    if operand.kind == "relation":
        params = state.params
        return (
            f"EXISTS (SELECT 1 FROM {RELATIONS} AS r JOIN {RECORDS} AS {alias} "
            f"ON {alias}.object_id = r.related_id WHERE r.class_name = {params.add(operand.owner_class)} "
            f"AND r.field = {params.add(operand.field_name)} AND r.owning_id = {operand.alias}.object_id "
            f"AND {condition})"
        )
    if operand.kind != "json":
        return FALSE
    pointer = (
        f"jsonb_build_object('__type', 'Pointer', 'className', {alias}.class_name, "
        f"'objectId', {alias}.object_id)"
    )
    path = operand.sql
    match = f"({path} = {pointer} OR {_any_element(path, f'e = {pointer}')})"
    return _two_valued(f"EXISTS (SELECT 1 FROM {RECORDS} AS {alias} WHERE {condition} AND {match})")


def _select(state: _State, operand: _Operand, arg: Any) -> str:
    if not isinstance(arg, Mapping) or set(arg) != {"query", "key"} or not isinstance(arg["key"], str):
        raise InvalidQueryError("improper usage of $select")
    found = _subquery_rows(state, arg["query"], "$select")
    if found is None or operand.kind != "json":
        return FALSE
    alias, condition, schema = found
    key = arg["key"]
    if not read_scope.selectable(schema, state.caller, key):
        return FALSE
    selected = _resolve(schema, key, alias)
    if selected.kind == "relation":
        return FALSE
    value = selected.sql if selected.kind == "json" else f"to_jsonb({selected.sql})"
    path = operand.sql
    scalar = f"jsonb_typeof({value}) NOT IN ('object', 'array')"
    match = f"({path} = {value} OR ({scalar} AND {_any_element(path, f'e = {value}')}))"
    return _two_valued(
        f"EXISTS (SELECT 1 FROM {RECORDS} AS {alias} WHERE {condition} AND {value} IS NOT NULL AND {match})"
    )


def _related_to(state: _State, arg: Any, alias: str) -> str:
    if not isinstance(arg, Mapping) or not isinstance(arg.get("key"), str):
        raise InvalidQueryError("improper usage of $relatedTo")
    owner = arg.get("object")
    if (
        not isinstance(owner, Mapping)
        or type_tag(owner) != "Pointer"
        or not isinstance(owner.get("objectId"), str)
    ):
        raise InvalidJsonError("$relatedTo object must be a Pointer")
    owner_class = validate_class_name(owner.get("className"))
    owner_schema = state.lookup(owner_class)
    spec = owner_schema.field_type(arg["key"]) if owner_schema else None
    if owner_schema is None or spec is None or spec.type != "Relation":
        return FALSE
    params = state.params
    owner_alias = state.next_alias()
    readable = rows(state, owner_schema, "get", owner_alias)
    owner_id = params.add(owner["objectId"])
    members = [
        f"r.class_name = {params.add(owner_class)}",
        f"r.field = {params.add(arg['key'])}",
        f"r.owning_id = {owner_id}",
        f"r.related_id = {alias}.object_id",
    ]
    if readable != TRUE:
        members.append(
            f"EXISTS (SELECT 1 FROM {RECORDS} AS {owner_alias} WHERE {owner_alias}.class_name = r.class_name "
            f"AND {owner_alias}.object_id = {owner_id} AND {readable})"
        )
    return f"EXISTS (SELECT 1 FROM {RELATIONS} AS r WHERE {all_of(members)})"


def order_by(
    schema: ClassSchema,
    order: tuple[str, ...],
    hidden: set[str],
    scores: list[str],
    alias: str = "t",
    near: list[str] | None = None,
) -> str:
    """ORDER BY from ``order`` keys (unknown and hidden keys ignored, as the SQLite store does); missing
    values sort first ascending, as SQLite's NULLs do."""
    terms: list[str] = []
    for raw in order:
        key = raw.strip()
        descending = key.startswith("-")
        key = key.lstrip("-")
        if key == "$score" and scores:
            terms.append(f"({scores[0]}) DESC")
        if not key or key.startswith("$") or key.split(".", 1)[0] in hidden:
            continue
        operand = _resolve(schema, key, alias)
        if operand.kind == "relation":
            continue
        if operand.kind == "json" and "." not in key and key not in schema.fields:
            continue
        direction = " DESC NULLS LAST" if descending else " ASC NULLS FIRST"
        if operand.kind == "column":
            terms.append(f'{operand.sql} COLLATE "C"{direction}')
        elif operand.schema_type == "Date":
            terms.append(f"({operand.sql}->>'iso') COLLATE \"C\"{direction}")
        elif operand.schema_type == "String":
            terms.append(f"({operand.sql} #>> '{{}}') COLLATE \"C\"{direction}")
        else:
            terms.append(f"{operand.sql}{direction}")
    if not terms and near:
        terms.append(near[0])
    return " ORDER BY " + ", ".join(terms) if terms else ""
