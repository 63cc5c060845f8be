"""``/aggregate/:className``: ``distinct`` or a pipeline given as ``pipeline``
(array, or object of stages) or as top-level ``$stage`` parameters in order (the Noodl form).

Unlike stock Parse this is a data route, not master-only: the store applies ACL and CLP, so Noodl's
browser-side Aggregate node works against a local backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sidecar.errors import InvalidQueryError
from sidecar.store import parse_where
from sidecar.web.router import Call, Route
from sidecar.web.wire import Reply

_NOT_STAGES = frozenset(
    {"where", "distinct", "pipeline", "readPreference", "hint", "explain", "comment", "includeReadPreference"}
)


def pipeline_of(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    given = params.get("pipeline")
    if given is not None:
        stages = given if isinstance(given, list) else _stages_of_object(given)
    else:
        stages = [{key: value} for key, value in params.items() if key not in _NOT_STAGES]
    for stage in stages:
        _check_stage(stage)
    return stages


def _stages_of_object(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, Mapping):
        raise InvalidQueryError("pipeline must be an array or an object")
    return [{key: stage} for key, stage in value.items()]


def _check_stage(stage: Any) -> None:
    if not isinstance(stage, Mapping) or len(stage) != 1:
        raise InvalidQueryError("Pipeline stages should only have one key")
    (key,) = stage
    if not isinstance(key, str) or not key.startswith("$"):
        raise InvalidQueryError(f"Invalid aggregate stage '{key}'.")


async def aggregate(call: Call) -> Reply:
    store, class_name = call.services.store, call.args["className"]
    field_name = call.params.get("distinct")
    if field_name is not None:
        if not isinstance(field_name, str):
            raise InvalidQueryError("distinct must be a field name")
        where = parse_where(call.params.get("where"))
        return Reply({"results": await store.distinct(class_name, field_name, where, call.caller)})
    results = await store.aggregate(class_name, pipeline_of(call.params), call.caller)
    return Reply({"results": results})


ROUTES: list[Route] = [Route("GET", "/aggregate/:className", aggregate)]
