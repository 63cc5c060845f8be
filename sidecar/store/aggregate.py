"""Aggregation pipelines with Mongo semantics.

Leading ``$match`` stages become SQL (with the caller's row ACL); later stages run in Python over the
matching objects, which is ample for a local backend.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sidecar.errors import InvalidQueryError
from sidecar.store.codec import dump_json, is_number, type_tag
from sidecar.store.names import quote, validate_class_name
from sidecar.store.reads import ReadContext, matching, present
from sidecar.store.records import decode_row
from sidecar.store.sqlfrag import fmt

_STAGES = frozenset(
    {"$match", "$group", "$project", "$sort", "$limit", "$skip", "$count", "$unwind", "$sample"}
)
_ALIASES = {"_created_at": "createdAt", "_updated_at": "updatedAt", "_id": "objectId"}


def run(ctx: ReadContext, class_name: str, pipeline: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    where, stages = plan(pipeline)
    schema = ctx.schemas.get(validate_class_name(class_name))
    if schema is None:
        return []
    condition, _ = matching(ctx, schema, where)
    statement = fmt(f"SELECT t.* FROM {quote(class_name)} AS t WHERE {{}}", condition)
    objects = [
        present(ctx.schemas, ctx.caller, class_name, decode_row(schema, row))
        for row in ctx.connection.execute(statement.text, statement.params)
    ]
    return finish(objects, stages)


Stages = list[tuple[str, Any]]


def plan(pipeline: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], Stages]:
    """The pipeline checked: its leading ``$match`` stages as one ``where`` (for the store's query), and
    the stages left to run over the matching objects (any store's: see :func:`finish`)."""
    stages = [_stage(stage) for stage in pipeline]
    where: dict[str, Any] = {}
    while stages and stages[0][0] == "$match":
        where = {"$and": [where, stages.pop(0)[1]]} if where else dict(stages.pop(0)[1])
    return where, stages


def finish(objects: list[dict[str, Any]], stages: Stages) -> list[dict[str, Any]]:
    """Run ``stages`` over the objects the ``where`` matched, as the caller may see them."""
    docs = [_plain(obj) for obj in objects]
    for name, arg in stages:
        docs = _APPLY[name](docs, arg)
    return [_rename_id(doc) for doc in docs]


def _stage(stage: Any) -> tuple[str, Any]:
    if not isinstance(stage, Mapping) or len(stage) != 1:
        raise InvalidQueryError("Invalid aggregate stage: each stage needs exactly one key")
    ((name, arg),) = stage.items()
    if name not in _STAGES:
        raise InvalidQueryError(f"Invalid aggregate stage '{name}'.")
    if name == "$match" and not isinstance(arg, Mapping):
        raise InvalidQueryError("$match needs an object")
    return name, arg


def _plain(obj: dict[str, Any]) -> dict[str, Any]:
    """Dates compare as instants and pointers group by id, as on the Mongo adapter."""

    def convert(value: Any) -> Any:
        if type_tag(value) == "Date":
            return value["iso"]
        if type_tag(value) == "Pointer":
            return value["objectId"]
        return value

    return {k: convert(v) for k, v in obj.items()}


def _rename_id(doc: dict[str, Any]) -> dict[str, Any]:
    if "_id" not in doc:
        return doc
    renamed = {"objectId": doc["_id"]}
    renamed.update({k: v for k, v in doc.items() if k != "_id"})
    return renamed


def _field(doc: Mapping[str, Any], ref: str) -> Any:
    value: Any = doc
    for segment in ref.split("."):
        segment = _ALIASES.get(segment, segment)
        value = value.get(segment) if isinstance(value, Mapping) else None
    return value


def _evaluate(doc: Mapping[str, Any], expr: Any) -> Any:
    if isinstance(expr, str) and expr.startswith("$"):
        return _field(doc, expr[1:])
    if isinstance(expr, Mapping):
        return {k: _evaluate(doc, v) for k, v in expr.items()}
    return expr


def _group(docs: list[dict[str, Any]], spec: Any) -> list[dict[str, Any]]:
    if not isinstance(spec, Mapping) or "_id" not in spec:
        raise InvalidQueryError("Missing key _id")
    if "objectId" in spec:
        raise InvalidQueryError("Cannot use 'objectId' in aggregation stage $group.")
    groups: dict[str, dict[str, Any]] = {}
    members: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        key = _evaluate(doc, spec["_id"])
        key = None if key == "" else key
        token = dump_json(key)
        groups.setdefault(token, {"_id": key})
        members.setdefault(token, []).append(doc)
    for token, group in groups.items():
        for alias, accumulator in spec.items():
            if alias != "_id":
                group[alias] = _accumulate(members[token], accumulator)
    return list(groups.values())


def _accumulate(docs: list[dict[str, Any]], accumulator: Any) -> Any:
    if not isinstance(accumulator, Mapping) or len(accumulator) != 1:
        raise InvalidQueryError("Invalid accumulator")
    ((op, expr),) = accumulator.items()
    values = [_evaluate(doc, expr) for doc in docs]
    numbers = [v for v in values if is_number(v)]
    present_values = [v for v in values if v is not None]
    if op == "$sum":
        return sum(numbers)
    if op == "$avg":
        return sum(numbers) / len(numbers) if numbers else None
    if op in ("$min", "$max"):
        comparable = numbers or [v for v in present_values if isinstance(v, str)]
        return (min if op == "$min" else max)(comparable) if comparable else None
    if op == "$push":
        return values
    if op == "$addToSet":
        unique: dict[str, Any] = {}
        for value in present_values:
            unique.setdefault(dump_json(value), value)
        return list(unique.values())
    if op in ("$first", "$last"):
        return (values[0] if op == "$first" else values[-1]) if values else None
    raise InvalidQueryError(f"Invalid accumulator {op}")


def _project(docs: list[dict[str, Any]], spec: Any) -> list[dict[str, Any]]:
    if not isinstance(spec, Mapping):
        raise InvalidQueryError("$project needs an object")
    excluded = {k for k, v in spec.items() if v in (0, False)}
    included = {k: v for k, v in spec.items() if k not in excluded}
    if not included:
        return [{k: v for k, v in doc.items() if k not in excluded} for doc in docs]
    out = []
    for doc in docs:
        projected = {"_id": doc["_id"]} if "_id" in doc and "_id" not in excluded else {}
        projected.update({"objectId": doc["objectId"]} if "objectId" in doc else {})
        for key, value in included.items():
            projected[key] = _field(doc, key) if value in (1, True) else _evaluate(doc, value)
        out.append(projected)
    return out


def _sort(docs: list[dict[str, Any]], spec: Any) -> list[dict[str, Any]]:
    if not isinstance(spec, Mapping):
        raise InvalidQueryError("$sort needs an object")
    for key, direction in reversed(list(spec.items())):
        docs = sorted(docs, key=_sort_key_for(key), reverse=direction == -1)
    return docs


def _sort_key_for(key: str) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    return lambda doc: _sort_key(_field(doc, key))


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if is_number(value):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, dump_json(value))


def _count_int(arg: Any, name: str) -> int:
    if not isinstance(arg, int) or isinstance(arg, bool) or arg < 0:
        raise InvalidQueryError(f"{name} needs a non-negative integer")
    return arg


def _unwind(docs: list[dict[str, Any]], spec: Any) -> list[dict[str, Any]]:
    path = spec.get("path") if isinstance(spec, Mapping) else spec
    if not isinstance(path, str) or not path.startswith("$"):
        raise InvalidQueryError("$unwind needs a field path")
    key = path[1:]
    out = []
    for doc in docs:
        value = doc.get(key)
        for item in value if isinstance(value, list) else ([] if value is None else [value]):
            out.append({**doc, key: item})
    return out


def _count(docs: list[dict[str, Any]], name: Any) -> list[dict[str, Any]]:
    if not isinstance(name, str) or not name:
        raise InvalidQueryError("$count needs a field name")
    return [{name: len(docs)}]


def _match_later(docs: list[dict[str, Any]], spec: Any) -> list[dict[str, Any]]:
    raise InvalidQueryError("$match is only supported before other stages")


_APPLY: dict[str, Callable[[list[dict[str, Any]], Any], list[dict[str, Any]]]] = {
    "$match": _match_later,
    "$group": _group,
    "$project": _project,
    "$sort": _sort,
    "$limit": lambda docs, n: docs[: _count_int(n, "$limit")],
    "$skip": lambda docs, n: docs[_count_int(n, "$skip") :],
    "$count": _count,
    "$unwind": _unwind,
    "$sample": lambda docs, spec: random.sample(
        docs, min(len(docs), _count_int(spec.get("size") if isinstance(spec, Mapping) else None, "$sample"))
    ),
}
