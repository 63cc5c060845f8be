"""Records ↔ request-scoped objects, typed by the export's ``dbCollections`` (Noodl CloudStore rules).

Reading: Pointer → id string, Date stays a Date marker, Relation fields dropped, nested plain objects
become objects and arrays of objects lists of objects. Writing: Pointer ids and objects become
Pointer markers, date strings become Date markers, objects are flattened to their data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sidecar.runtime.context import RunContext
from sidecar.runtime.objects import Model
from sidecar.runtime.values import UNDEFINED

_SKIPPED = ("objectId", "ACL")
_TIMESTAMPS = ("createdAt", "updatedAt")


class CloudFile(dict[str, Any]):
    """A File property of a record as the real runner hands it on (its ``CloudFile``): ``name`` and
    ``url``, serialised as just those two. Only such values reach a Cloud File node's outputs; a plain
    object with the same keys (from a request, a script) is not a file there."""

    def __init__(self, name: Any, url: Any) -> None:
        super().__init__(name=name, url=url)


def collection_schema(ctx: RunContext, collection: str) -> Mapping[str, Any]:
    """``{property: {type, targetClass?}}`` from ``metadata.dbCollections``/``systemCollections``."""
    metadata = ctx.services.export.metadata
    for key in ("dbCollections", "systemCollections"):
        for entry in metadata.get(key) or []:
            if isinstance(entry, dict) and entry.get("name") == collection:
                properties = (entry.get("schema") or {}).get("properties") or {}
                return properties if isinstance(properties, dict) else {}
    return {}


def _property_type(schema: Mapping[str, Any], key: str) -> tuple[Any, Any]:
    spec = schema.get(key)
    return (spec.get("type"), spec.get("targetClass")) if isinstance(spec, dict) else (None, None)


def from_json(ctx: RunContext, item: Mapping[str, Any], collection: str | None) -> Model:
    """``CloudStore._fromJSON``: the object with id ``objectId`` updated from the record."""
    model = ctx.models.get(str(item.get("objectId")))
    if collection:
        ctx.record_classes[model.id] = collection
    schema = collection_schema(ctx, collection) if collection else {}
    # Parse answers with user fields first and the timestamps after them; keep that order.
    keys = [k for k in item if k not in _SKIPPED and k not in _TIMESTAMPS] + [
        k for k in _TIMESTAMPS if k in item
    ]
    for key in keys:
        model.set(key, deserialize(ctx, item[key], _property_type(schema, key)[0]))
    return model


def deserialize(ctx: RunContext, data: Any, type_name: Any) -> Any:
    if data is None:
        return None
    if isinstance(data, dict):
        marker = data.get("__type")
        if type_name == "Relation" and marker == "Relation":
            return UNDEFINED
        if type_name == "Pointer" and marker == "Pointer":
            return data.get("objectId")
        if type_name == "GeoPoint" and marker == "GeoPoint":
            return {"latitude": data.get("latitude"), "longitude": data.get("longitude")}
        if type_name == "File" and marker == "File":
            return CloudFile(data.get("name"), data.get("url"))
        if marker in ("Date", "File"):
            return data
        if marker == "Object" and "className" in data and "objectId" in data:
            inner = {k: v for k, v in data.items() if k not in ("className", "__type")}
            return from_json(ctx, inner, data["className"])
        model = ctx.models.create()
        for key, value in data.items():
            model.set(key, deserialize(ctx, value, None))
        return model
    if isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        return [deserialize(ctx, item, None) for item in data]
    return data


def serialize(ctx: RunContext, data: Mapping[str, Any], collection: str) -> dict[str, Any]:
    """``CloudStore._serializeObject`` for a body about to be written."""
    schema = collection_schema(ctx, collection)
    body: dict[str, Any] = {}
    for key, value in data.items():
        if value is UNDEFINED:
            continue
        type_name, target = _property_type(schema, key)
        if value is None:
            body[key] = None
        elif type_name == "Pointer" and isinstance(value, str | Model):
            object_id = value.id if isinstance(value, Model) else value
            body[key] = {"__type": "Pointer", "className": target, "objectId": object_id}
        elif type_name == "File" and isinstance(value, CloudFile):
            body[key] = {"__type": "File", "url": value["url"], "name": value["name"]}
        elif type_name == "Date" and isinstance(value, str):
            body[key] = {"__type": "Date", "iso": value}
        elif type_name == "Object" and isinstance(value, str) and ctx.models.find(value) is not None:
            body[key] = to_plain(ctx.models.get(value))
        else:
            body[key] = to_plain(value)
    return body


def to_plain(value: Any) -> Any:
    """Objects become their data (no id), recursively, as CloudStore's ``_toJSON``."""
    if isinstance(value, Model):
        return {key: to_plain(item) for key, item in value.data.items()}
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    return value
