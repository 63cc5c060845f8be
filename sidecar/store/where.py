"""Parse ``where`` JSON → parameterised SQL (a pure function of the where, the schemas and the caller).

Mongo semantics are the reference: equality on an Array matches an element, a
missing column acts as NULL, ``$in []`` matches nothing and ``$nin []`` everything. Every predicate built here
is two-valued (never SQL NULL), so ``NOT``/``$nor`` are exact. Anything not understood raises; a filter is
never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sidecar.errors import InvalidJsonError, InvalidKeyNameError, InvalidQueryError
from sidecar.store.codec import type_tag
from sidecar.store.names import join_table, quote, validate_class_name
from sidecar.store.operands import ArrayColumn, Column, JsonValue, Missing, Operand, RelationField, resolve
from sidecar.store.predicates import FIELD_OPERATORS, Predicates
from sidecar.store.query_limits import check_terms, check_where
from sidecar.store.schema import ClassSchema
from sidecar.store.sqlfrag import FALSE, TRUE, Sql, all_of, any_of, fmt, negate, sql

SchemaLookup = Callable[[str], ClassSchema | None]


class ReadScope(Protocol):
    """What the caller may read of each class a where reaches (``sidecar.store.read_scope.CallerScope``)."""

    def rows(self, schema: ClassSchema, operation: str, alias: str) -> Sql:
        """Raise 119 when the class-level permission refuses ``operation``; else the rows' SQL test."""
        ...

    def check_constrained_fields(self, schema: ClassSchema | None, where: Mapping[str, Any]) -> None:
        """Raise 119 when one level of a where constrains a field hidden from the caller."""
        ...

    def selectable(self, schema: ClassSchema, key: str) -> bool:
        """Whether ``$select`` may read ``key`` of the class's rows."""
        ...


@dataclass(frozen=True)
class CompiledWhere:
    condition: Sql
    near_order: Sql | None = None
    """Distance ordering implied by ``$nearSphere`` (used when no explicit order is given)."""
    text_score: Sql | None = None
    """Relevance of the ``$text`` match, for ``order=$score``."""


@dataclass
class _State:
    lookup: SchemaLookup
    scope: ReadScope
    now: datetime
    unindexed: frozenset[str] = frozenset()
    top_alias: str = "t"
    aliases: int = 0
    near: list[Sql] = field(default_factory=list)
    scores: list[Sql] = field(default_factory=list)

    def next_alias(self) -> str:
        self.aliases += 1
        return f"s{self.aliases}"


def compile_where(
    where: Any,
    class_name: str,
    lookup: SchemaLookup,
    scope: ReadScope,
    *,
    alias: str = "t",
    now: datetime | None = None,
    unindexed: frozenset[str] = frozenset(),
) -> CompiledWhere:
    """``unindexed``: fields of the class whose comparisons must not use an index (written ``+column``,
    which SQLite never looks up through an index; the value is the same): a find ordered by another key
    keeps the plan it had before an automatic index (``sidecar.store.sqlite.auto_index``)."""
    check_where(where)
    state = _State(lookup, scope, now or datetime.now(UTC), unindexed, alias)
    condition = _compile(state, where, lookup(class_name), alias)
    check_terms(condition.text)
    return CompiledWhere(
        condition, state.near[0] if state.near else None, state.scores[0] if state.scores else None
    )


def _compile(state: _State, where: Any, schema: ClassSchema | None, alias: str) -> Sql:
    if not isinstance(where, Mapping):
        raise InvalidQueryError("where must be a JSON object")
    state.scope.check_constrained_fields(schema, where)
    return all_of(_compile_key(state, key, value, schema, alias) for key, value in where.items())


def _compile_key(state: _State, key: str, value: Any, schema: ClassSchema | None, alias: str) -> Sql:
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
    operand = resolve(schema, key, alias)
    if key in state.unindexed and alias == state.top_alias and isinstance(operand, Column):
        operand = Column("+" + operand.sql, operand.type, operand.target_class)
    if isinstance(value, Mapping) and any(str(k).startswith("$") for k in value):
        return _field_constraints(state, operand, value)
    return _preds(state).eq(operand, value)


def _preds(state: _State) -> Predicates:
    return Predicates(now=state.now)


def _field_constraints(state: _State, operand: Operand, constraints: Mapping[str, Any]) -> Sql:
    literal = {k: v for k, v in constraints.items() if not str(k).startswith("$")}
    preds = _preds(state)
    parts = [preds.eq(operand, literal)] if literal else []
    for op, arg in constraints.items():
        if op in literal:
            continue
        if op not in FIELD_OPERATORS:
            raise InvalidJsonError(f"bad constraint: {op}")
        parts.append(_one_constraint(state, preds, operand, op, arg, constraints))
    return all_of(parts)


def _one_constraint(
    state: _State, preds: Predicates, operand: Operand, op: str, arg: Any, siblings: Mapping[str, Any]
) -> Sql:
    if op in ("$lt", "$lte", "$gt", "$gte"):  # the commonest, tested before the table below is built
        return preds.compare(operand, op, arg)
    simple: dict[str, Callable[[Operand, Any], Sql]] = {
        "$eq": preds.eq,
        "$ne": lambda o, a: negate(preds.eq(o, a)),
        "$in": preds.in_,
        "$nin": lambda o, a: negate(preds.in_(o, a)),
        "$exists": preds.exists,
        "$all": preds.all_,
        "$containedBy": preds.contained_by,
        "$geoIntersects": preds.geo_intersects,
        "$within": preds.within,
        "$geoWithin": preds.geo_within,
    }
    if op in simple:
        return simple[op](operand, arg)
    if op == "$regex":
        return preds.regex(operand, arg, siblings.get("$options"))
    if op == "$text":
        condition, score = preds.text(operand, arg)
        if score is not None:
            state.scores.append(score)
        return condition
    if op == "$nearSphere":
        condition, distance = preds.near_sphere(operand, arg, siblings)
        if distance is not None:
            state.near.append(distance)
        return condition
    if op in ("$select", "$dontSelect"):
        found = _select(state, operand, arg)
        return found if op == "$select" else negate(found)
    if op in ("$inQuery", "$notInQuery"):
        found = _in_query(state, operand, arg)
        return found if op == "$inQuery" else negate(found)
    return TRUE  # modifiers ($options, $maxDistance*) are read by their operator


def _subquery(state: _State, sub: Any, column: str, usage: str) -> Sql | None:
    """``SELECT <column> FROM <class> WHERE <where> AND <rows the caller may find>``; None when the class
    is missing. The subquery's class must allow the caller to find (119 otherwise), as in Parse."""
    if not isinstance(sub, Mapping) or not isinstance(sub.get("className"), str):
        raise InvalidQueryError(f"improper usage of {usage}")
    class_name = validate_class_name(sub["className"])
    schema = state.lookup(class_name)
    if schema is None:
        return None
    alias = state.next_alias()
    readable = state.scope.rows(schema, "find", alias)
    target = resolve(schema, column, alias)
    if not isinstance(target, Column | ArrayColumn) or not state.scope.selectable(schema, column):
        return None
    condition = all_of(
        [
            _compile(state, sub.get("where", {}), schema, alias),
            readable,
            sql(f"{target.sql} IS NOT NULL"),
        ]
    )
    return fmt(f"SELECT {target.sql} FROM {quote(class_name)} AS {alias} WHERE {{}}", condition)


def _select(state: _State, operand: Operand, arg: Any) -> Sql:
    if not isinstance(arg, Mapping) or set(arg) != {"query", "key"} or not isinstance(arg["key"], str):
        raise InvalidQueryError("improper usage of $select")
    subquery = _subquery(state, arg["query"], arg["key"], "$select")
    if subquery is None:
        return FALSE
    return _preds(state).in_subquery(operand, subquery)


def _in_query(state: _State, operand: Operand, arg: Any) -> Sql:
    subquery = _subquery(state, arg, "objectId", "$inQuery")
    if subquery is None:
        return FALSE
    if isinstance(operand, RelationField):
        join = quote(join_table(operand.owner_class, operand.field_name))
        owners = f'SELECT "owningId" FROM {join} WHERE "relatedId" IN ({{}})'
        return fmt(f'{operand.alias}."objectId" IN ({owners})', subquery)
    if isinstance(operand, Column) and operand.type == "Pointer":
        return fmt(f"({operand.sql} IS NOT NULL AND {operand.sql} IN ({{}}))", subquery)
    if isinstance(operand, ArrayColumn):
        return fmt(
            f"EXISTS (SELECT 1 FROM json_each({operand.sql}) AS e WHERE e.type = 'object' AND "
            "json_extract(e.value, '$.__type') = 'Pointer' AND json_extract(e.value, '$.objectId') IN ({}))",
            subquery,
        )
    if isinstance(operand, Missing | JsonValue | Column):
        return FALSE
    raise InvalidQueryError("improper usage of $inQuery")


def _related_to(state: _State, arg: Any, alias: str) -> Sql:
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
    # The relation is a field of its owner: reading it needs the owner's get permission and a readable row.
    owner_alias = state.next_alias()
    readable = state.scope.rows(owner_schema, "get", owner_alias)
    owner_id = owner["objectId"]
    members = [sql('"owningId" = ?', owner_id)]
    if readable != TRUE:
        owner_row = all_of([sql(f'{owner_alias}."objectId" = ?', owner_id), readable])
        members.append(
            fmt(f"EXISTS (SELECT 1 FROM {quote(owner_class)} AS {owner_alias} WHERE {{}})", owner_row)
        )
    join = quote(join_table(owner_class, arg["key"]))
    return fmt(f'{alias}."objectId" IN (SELECT "relatedId" FROM {join} WHERE {{}})', all_of(members))
