"""Read operations as plain functions over one connection snapshot (run on a reader thread)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sidecar.errors import InvalidQueryError, ObjectNotFoundError
from sidecar.store import acl, clp, read_scope, special_classes
from sidecar.store.codec import dump_json, type_tag
from sidecar.store.interface import CallerContext, FetchOptions, QueryOptions, QueryResult
from sidecar.store.names import quote, validate_class_name
from sidecar.store.operands import ArrayColumn, Column, JsonValue, resolve
from sidecar.store.records import decode_row, project, row_decoder
from sidecar.store.schema import ClassSchema
from sidecar.store.sqlfrag import Sql, all_of, fmt, sql
from sidecar.store.where import CompiledWhere, compile_where

Schemas = Mapping[str, ClassSchema]
_HIDDEN_USER_FIELDS = ("sessionToken", "authData")


@dataclass(frozen=True)
class ReadContext:
    connection: sqlite3.Connection
    schemas: Schemas
    caller: CallerContext
    automatic_indexes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Class → fields with an automatic index (``sidecar.store.sqlite.auto_index``)."""

    def lookup(self) -> Callable[[str], ClassSchema | None]:
        return self.schemas.get

    @property
    def scope(self) -> read_scope.CallerScope:
        return read_scope.CallerScope(self.caller)


def matching(
    ctx: ReadContext,
    schema: ClassSchema,
    where: Mapping[str, Any],
    operation: str = "find",
    order: tuple[str, ...] = (),
) -> tuple[Sql, CompiledWhere]:
    """WHERE clause (filter AND the rows the caller may ``operation``) for alias ``t``, and the compiled
    filter (for implied orders). Raises 119 when the class-level permission refuses the operation."""
    readable = read_scope.rows(schema, operation, ctx.caller, "t")
    own = special_classes.find_scope(ctx.caller, schema.class_name, "t")
    unindexed = _automatic_indexes_off(ctx, schema, order)
    compiled = compile_where(where, schema.class_name, ctx.lookup(), ctx.scope, unindexed=unindexed)
    return all_of([compiled.condition, readable, own]), compiled


def _automatic_indexes_off(ctx: ReadContext, schema: ClassSchema, order: tuple[str, ...]) -> frozenset[str]:
    """Under an explicit order, the fields whose automatic index the plan must not use: SQLite, without
    statistics on how many rows a range keeps, would prefer such an index to walking the order's own
    index, and then sort every matching row (for a range that keeps most rows, a thousand times
    slower). The first order key's own field, and fields a declared index leads with, keep theirs."""
    automatic = ctx.automatic_indexes.get(schema.class_name)
    if not automatic or not order:
        return frozenset()
    first = order[0].strip().lstrip("-")
    declared = {next(iter(spec), None) for spec in schema.indexes.values() if isinstance(spec, Mapping)}
    return frozenset(name for name in automatic if name != first and name not in declared)


def order_by(
    schema: ClassSchema, order: tuple[str, ...], compiled: CompiledWhere, hidden: set[str] | None = None
) -> Sql:
    """ORDER BY from ``order`` keys; ``$score`` ranks ``$text`` matches; ``$nearSphere`` orders by distance
    when nothing else does. Keys the class lacks are ignored, as Parse does, and so are ``hidden`` ones
    (protectedFields: an order would reveal how hidden values compare)."""
    terms: list[Sql] = []
    for raw in order:
        key = raw.strip()
        descending = key.startswith("-")
        key = key.lstrip("-")
        if key == "$score" and compiled.text_score is not None:
            terms.append(Sql(compiled.text_score.text + " DESC", compiled.text_score.params))
        if not key or key == "$score" or (hidden and key.split(".", 1)[0] in hidden):
            continue
        operand = resolve(schema, key, "t")
        direction = " DESC" if descending else ""
        if isinstance(operand, Column | ArrayColumn):
            terms.append(sql(operand.sql + direction))
        elif isinstance(operand, JsonValue):
            terms.append(sql(operand.value_sql + direction))
    if not terms and compiled.near_order is not None:
        terms.append(compiled.near_order)
    if not terms:
        return sql("")
    params: list[Any] = []
    for term in terms:
        params.extend(term.params)
    return Sql(" ORDER BY " + ", ".join(term.text for term in terms), tuple(params))


def query(ctx: ReadContext, class_name: str, options: QueryOptions) -> QueryResult:
    validate_class_name(class_name)
    schema = ctx.schemas.get(class_name)
    if schema is None:
        return QueryResult([], 0 if options.count else None)
    if options.count and options.limit == 0:  # only a count (the SDK's count()): Parse needs count alone
        return QueryResult([], count(ctx, class_name, options.where))
    condition, compiled = matching(ctx, schema, options.where, order=options.order)
    hidden = clp.protected_fields(schema.clp, ctx.caller)
    ordering = order_by(schema, options.order, compiled, hidden)
    limit = options.limit if options.limit >= 0 else -1
    statement = fmt(
        f"SELECT t.* FROM {quote(class_name)} AS t WHERE {{}}{{}} LIMIT ? OFFSET ?", condition, ordering
    )
    cursor = ctx.connection.execute(statement.text, (*statement.params, limit, max(options.skip, 0)))
    rows = cursor.fetchall()
    shown = presenter(ctx.schemas, ctx.caller, class_name)
    decode = row_decoder(schema, [column[0] for column in cursor.description])
    objects = [shown(decode(row)) for row in rows]
    include = include_paths(schema, options.include, options.keys)
    if include:
        expand(ctx, objects, schema, include)
    results = [project(obj, options.keys, options.exclude_keys) for obj in objects]
    total = None
    if options.count:  # the count needs the count permission too, and may be narrowed differently
        same_rule = schema.clp.get("count") == schema.clp.get("find")
        counted = condition if same_rule else matching(ctx, schema, options.where, "count")[0]
        total = count_matching(ctx, class_name, counted)
    return QueryResult(results, total)


def count(ctx: ReadContext, class_name: str, where: Mapping[str, Any]) -> int:
    validate_class_name(class_name)
    schema = ctx.schemas.get(class_name)
    if schema is None:
        return 0
    condition, _ = matching(ctx, schema, where, "count")
    return count_matching(ctx, class_name, condition)


def count_matching(ctx: ReadContext, class_name: str, condition: Sql) -> int:
    statement = fmt(f"SELECT COUNT(*) FROM {quote(class_name)} AS t WHERE {{}}", condition)
    return int(ctx.connection.execute(statement.text, statement.params).fetchone()[0])


def fetch(ctx: ReadContext, class_name: str, object_id: str, options: FetchOptions) -> dict[str, Any]:
    schema = ctx.schemas.get(validate_class_name(class_name))
    if schema is None or not isinstance(object_id, str):
        raise ObjectNotFoundError()
    readable = read_scope.rows(schema, "get", ctx.caller, "t")
    row = load_row(ctx, schema, object_id, visible=readable)
    obj = present(ctx.schemas, ctx.caller, class_name, decode_row(schema, row))
    include = include_paths(schema, options.include, options.keys)
    if include:
        expand(ctx, [obj], schema, include)
    return project(obj, options.keys, options.exclude_keys)


def load_row(
    ctx: ReadContext, schema: ClassSchema, object_id: str, perm: str = "_rperm", visible: Sql | None = None
) -> sqlite3.Row:
    """The row if it exists and the caller holds ``perm`` on it (or it passes ``visible``, a test of alias
    ``t``) and the class's own rules let the caller reach it; otherwise 101 (missing and forbidden look
    the same)."""
    visible = acl.visible(ctx.caller, "t", perm) if visible is None else visible
    visible = all_of([visible, special_classes.row_scope(ctx.caller, schema.class_name, "t")])
    statement = fmt(
        f'SELECT t.* FROM {quote(schema.class_name)} AS t WHERE t."objectId" = ? AND {{}}', visible
    )
    row = ctx.connection.execute(statement.text, (object_id, *visible.params)).fetchone()
    if row is None:
        raise ObjectNotFoundError()
    return row  # type: ignore[no-any-return]


def present(schemas: Schemas, caller: CallerContext, class_name: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Hide what a non-master caller may not see: the class's protectedFields, and other users' secrets
    (a user always sees all of their own ``_User`` row). Session token columns are never returned."""
    return presenter(schemas, caller, class_name)(obj)


def presenter(
    schemas: Schemas, caller: CallerContext, class_name: str
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """:func:`present` for many objects of one class: what to hide is worked out once, not per row."""
    always = special_classes.ALWAYS_HIDDEN.get(class_name)
    hidden: set[str] = set()
    if not caller.is_master:
        schema = schemas.get(class_name)
        hidden = clp.protected_fields(schema.clp, caller) if schema else set()
        if class_name == "_User":
            hidden.update(_HIDDEN_USER_FIELDS)
    own_id = caller.user_id if class_name == "_User" else None

    def one(obj: dict[str, Any]) -> dict[str, Any]:
        if always is not None and not always.isdisjoint(obj):
            obj = {k: v for k, v in obj.items() if k not in always}
        if not hidden or (own_id is not None and obj.get("objectId") == own_id):
            return obj
        return {k: v for k, v in obj.items() if k not in hidden}

    return one


def include_paths(
    schema: ClassSchema, include: tuple[str, ...], keys: tuple[str, ...] | None
) -> list[list[str]]:
    paths = [path.strip() for path in include if path.strip()]
    paths += [key.rsplit(".", 1)[0] for key in keys or () if "." in key]
    if "*" in paths:
        paths = [p for p in paths if p != "*"]
        paths += [name for name, spec in schema.fields.items() if spec.type == "Pointer"]
    return [path.split(".") for path in dict.fromkeys(paths)]


def expand(
    ctx: ReadContext, objects: list[dict[str, Any]], schema: ClassSchema, paths: list[list[str]]
) -> None:
    """Replace pointers along each include path by full objects the caller may read, level by level.

    Each pointee class is read as a ``get`` of it (Parse's include): a class whose permission refuses the
    caller fails the whole read with 119, a row the caller may not read stays a plain pointer."""
    heads: dict[str, list[list[str]]] = {}
    for path in paths:
        heads.setdefault(path[0], []).append(path[1:])
    for head, tails in heads.items():
        holders = [obj for obj in objects if head in obj]
        by_class: dict[str, set[str]] = {}
        for obj in holders:
            for pointer in pointers_in(obj[head]):
                by_class.setdefault(pointer["className"], set()).add(pointer["objectId"])
        loaded: dict[tuple[str, str], dict[str, Any]] = {}
        for class_name, ids in by_class.items():
            target = ctx.schemas.get(class_name)
            if target is None:
                continue
            found = _load_many(ctx, target, sorted(ids))
            deeper = [tail for tail in tails if tail]
            if deeper:
                expand(ctx, found, target, deeper)
            loaded.update({(class_name, o["objectId"]): o for o in found})
        for obj in holders:
            obj[head] = swap_included(obj[head], loaded)


def pointers_in(value: Any) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    return [v for v in items if type_tag(v) == "Pointer" and isinstance(v.get("className"), str)]


def swap_included(value: Any, loaded: dict[tuple[str, str], dict[str, Any]]) -> Any:
    if isinstance(value, list):
        return [swap_included(item, loaded) for item in value]
    if type_tag(value) == "Pointer":
        found = loaded.get((value.get("className"), value.get("objectId")))
        if found is not None:
            return {"__type": "Object", "className": value["className"], **found}
    return value


def _load_many(ctx: ReadContext, schema: ClassSchema, ids: list[str]) -> list[dict[str, Any]]:
    marks = ", ".join("?" * len(ids))
    readable = read_scope.rows(schema, "get", ctx.caller, "t")
    visible = all_of([readable, special_classes.include_scope(ctx.caller, schema, "t")])
    statement = fmt(
        f'SELECT t.* FROM {quote(schema.class_name)} AS t WHERE t."objectId" IN ({marks}) AND {{}}', visible
    )
    cursor = ctx.connection.execute(statement.text, (*ids, *visible.params))
    rows = cursor.fetchall()
    shown = presenter(ctx.schemas, ctx.caller, schema.class_name)
    decode = row_decoder(schema, [column[0] for column in cursor.description])
    return [shown(decode(row)) for row in rows]


def distinct(ctx: ReadContext, class_name: str, field_name: str, where: Mapping[str, Any]) -> list[Any]:
    validate_class_name(class_name)
    schema = ctx.schemas.get(class_name)
    if schema is None:
        return []
    if not isinstance(field_name, str) or not field_name:
        raise InvalidQueryError("distinct needs a field name")
    condition, _ = matching(ctx, schema, where)
    statement = fmt(f"SELECT t.* FROM {quote(class_name)} AS t WHERE {{}}", condition)
    seen: dict[str, Any] = {}
    head, *rest = field_name.split(".")
    resolve(schema, field_name, "t")  # validates the name
    for row in ctx.connection.execute(statement.text, statement.params):
        value: Any = present(ctx.schemas, ctx.caller, class_name, decode_row(schema, row)).get(head)
        for segment in rest:
            value = value.get(segment) if isinstance(value, dict) else None
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                seen.setdefault(dump_json(item), item)
    return list(seen.values())
