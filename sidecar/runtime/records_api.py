"""``Noodl.Records`` for Function nodes: the prelude's host requests, carried out on the port."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sidecar.errors import ScriptError
from sidecar.runtime.context import RunContext
from sidecar.runtime.objects import Model
from sidecar.runtime.records_codec import from_json, serialize
from sidecar.runtime.records_port import RecordQuery, RecordsPort
from sidecar.runtime.values import UNDEFINED, js_to_number, js_to_string


def _options(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _order(sort: Any) -> tuple[str, ...]:
    if isinstance(sort, str):
        return tuple(part.strip() for part in sort.split(",") if part.strip())
    if isinstance(sort, list):
        return tuple(js_to_string(part) for part in sort)
    return ()


def _record(ctx: RunContext, value: Any, options: Mapping[str, Any]) -> tuple[str, str]:
    """(collection, id) of a record argument: an object read from the store, or an id plus options."""
    object_id = value.id if isinstance(value, Model) else js_to_string(value)
    collection = options.get("collection") or ctx.record_classes.get(object_id)
    if not collection:
        raise ScriptError("Noodl.Records: no collection known for record " + object_id)
    return js_to_string(collection), object_id


def _number(value: Any) -> int | None:
    return None if value is UNDEFINED or value is None else int(js_to_number(value))


async def script_records_call(ctx: RunContext, records: RecordsPort, method: str, args: list[Any]) -> Any:
    """Run one ``Noodl.Records.<method>(...)``; raises ScriptError for calls it does not know."""
    first, second, third = (list(args) + [UNDEFINED] * 3)[:3]
    if method == "query":
        options = _options(third)
        query = RecordQuery(
            where=second or {},
            order=_order(options.get("sort")),
            limit=_number(options.get("limit")),
            skip=_number(options.get("skip")),
            count=bool(options.get("count")),
            include=_order(options.get("include")),
        )
        rows, total = await records.query(js_to_string(first), query)
        items = [from_json(ctx, row, js_to_string(first)) for row in rows]
        return {"results": items, "count": total} if query.count else items
    if method == "count":
        return await records.count(js_to_string(first), second or {})
    if method == "distinct":
        return await records.distinct(js_to_string(first), js_to_string(second), third or {})
    if method == "fetch":
        collection, object_id = _record(ctx, second, {"collection": first} if first else {})
        return from_json(ctx, await records.fetch(collection, object_id), collection)
    if method == "create":
        collection = js_to_string(first)
        created = await records.create(
            collection, serialize(ctx, second if isinstance(second, dict) else {}, collection)
        )
        return from_json(ctx, created, collection)
    if method == "save":
        collection, object_id = _record(ctx, first, _options(third))
        model = first if isinstance(first, Model) else ctx.models.get(object_id)
        body = second if isinstance(second, dict) else model.data
        saved = await records.save(collection, object_id, serialize(ctx, body, collection))
        return from_json(ctx, {**saved, "objectId": object_id}, collection)
    if method == "increment":
        collection, object_id = _record(ctx, first, _options(third))
        body = {key: {"__op": "Increment", "amount": value} for key, value in _options(second).items()}
        return from_json(
            ctx, {**await records.save(collection, object_id, body), "objectId": object_id}, collection
        )
    if method == "delete":
        collection, object_id = _record(ctx, first, _options(second))
        await records.delete(collection, object_id)
        return UNDEFINED
    if method in ("addRelation", "removeRelation"):
        options = _options(first)
        collection, object_id = _record(ctx, options.get("record", options.get("recordId")), options)
        target = options.get("targetRecord", options.get("targetRecordId"))
        target_id = target.id if isinstance(target, Model) else js_to_string(target)
        target_class = options.get("targetCollection") or ctx.record_classes.get(target_id)
        pointer = {"__type": "Pointer", "className": target_class, "objectId": target_id}
        call = records.add_relation if method == "addRelation" else records.remove_relation
        await call(collection, object_id, js_to_string(options.get("key")), [pointer])
        return UNDEFINED
    raise ScriptError(f"Noodl.Records.{method} is not supported in cloud functions here")
