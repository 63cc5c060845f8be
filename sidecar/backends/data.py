"""The editor's data and schema operations on one backend, in the contract's shapes.

Both doors call these: the IPC ``backend:*`` channels and the HTTP ``/admin/schema`` and
``/api/*`` routes. The editor works as
admin, so every call runs as the master caller. The store loads on first use, after
the stdio handshake (it is the slowest import of the process).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sidecar.errors import InvalidParamsError, InvalidSchemaOperationError, SidecarError

SYSTEM_COLUMNS = ("objectId", "createdAt", "updatedAt", "ACL")
RECORDS_DEFAULT_LIMIT = 50


def table_schema(parse_schema: Mapping[str, Any]) -> dict[str, Any]:
    """Parse's ``{className, fields}`` → the editor's ``TableSchema {name, columns}``."""
    columns = []
    for name, field in parse_schema.get("fields", {}).items():
        if name in SYSTEM_COLUMNS:
            continue
        column: dict[str, Any] = {
            "name": name,
            "type": field.get("type"),
            "required": bool(field.get("required", False)),
            "defaultValue": field.get("defaultValue"),
        }
        if "targetClass" in field:
            column["targetClass"] = field["targetClass"]
        columns.append(column)
    return {"name": parse_schema["className"], "columns": columns}


def _field_definition(column: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    name = column.get("name")
    kind = column.get("type")
    if not isinstance(name, str) or not isinstance(kind, str):
        raise InvalidParamsError("a column needs a string `name` and `type`")
    field: dict[str, Any] = {"type": kind}
    if column.get("required"):
        field["required"] = True
    default = column.get("default", column.get("defaultValue"))
    if default is not None:
        field["defaultValue"] = default
    if column.get("targetClass"):
        field["targetClass"] = column["targetClass"]
    return name, field


async def get_schema(store: Any) -> dict[str, Any]:
    schemas = await store.list_schemas()
    tables = [table_schema(s) for s in schemas if not str(s["className"]).startswith("_")]
    return {"version": 1, "tables": tables}


async def get_table_schema(store: Any, table: str) -> dict[str, Any] | None:
    try:
        return table_schema(await store.get_schema(table))
    except SidecarError:
        return None


async def create_table(store: Any, definition: Mapping[str, Any]) -> dict[str, Any]:
    """Idempotent, as the editor expects: an existing table answers ``created: false`` and is left as
    it is (its columns and rows untouched)."""
    name = definition.get("name")
    if not isinstance(name, str):
        raise InvalidParamsError("createTable needs a table `name`")
    columns = definition.get("columns") or []
    if not isinstance(columns, list) or not all(isinstance(column, Mapping) for column in columns):
        raise InvalidParamsError("`columns` must be an array of column objects")
    fields = dict(_field_definition(column) for column in columns)
    if await get_table_schema(store, name) is not None:
        return {"success": True, "created": False, "tableName": name}
    await store.create_class(name, {"fields": fields})
    return {"success": True, "created": True, "tableName": name}


# The conversions a column's values survive: every scalar to text, text and numbers both ways,
# booleans to and from numbers and text, and JSON text to an object or array. Anything else (a
# pointer, relation, file, date or location on either side) is refused before any row is touched.
_CONVERTIBLE: dict[str, frozenset[str]] = {
    "String": frozenset({"Number", "Boolean", "Object", "Array"}),
    "Number": frozenset({"String", "Boolean"}),
    "Boolean": frozenset({"String", "Number"}),
    "Object": frozenset({"String"}),
    "Array": frozenset({"String"}),
}


async def change_column_type(store: Any, table: str, column: str, new_type: str) -> dict[str, Any]:
    """Rebuild ``column`` as ``new_type``, converting its values; ``{changed, from, rebuilt,
    convertedValues, lost}``. The same type answers ``changed: false`` without touching a row."""
    current = await get_table_schema(store, table)
    if current is None:
        raise InvalidSchemaOperationError(f"Table {table} does not exist.")
    found = next((c for c in current["columns"] if c["name"] == column), None)
    if found is None:
        raise InvalidSchemaOperationError(f"Column {column} does not exist in {table}.")
    old_type = found["type"]
    if old_type == new_type:
        return _type_change(table, column, old_type, changed=False, converted=0, lost=0)
    if new_type not in _CONVERTIBLE.get(old_type, frozenset()):
        raise InvalidSchemaOperationError(
            f"Cannot change {table}.{column} from {old_type} to {new_type}: the values would not survive. "
            "Add a new column of that type instead."
        )
    result = await store.change_field_type(table, column, new_type)
    conversion = result.get("conversion", {})
    return _type_change(
        table,
        column,
        old_type,
        changed=True,
        converted=int(conversion.get("convertedValues", 0)),
        lost=int(conversion.get("lost", 0)),
    )


def _type_change(
    table: str, column: str, old: str, *, changed: bool, converted: int, lost: int
) -> dict[str, Any]:
    return {
        "success": True,
        "tableName": table,
        "columnName": column,
        "changed": changed,
        "from": old,
        "rebuilt": changed,
        "convertedValues": converted,
        "lost": lost,
    }


async def add_column(store: Any, table: str, column: Mapping[str, Any]) -> dict[str, Any]:
    name, field = _field_definition(column)
    await store.update_class(table, {"fields": {name: field}})
    return {"success": True, "tableName": table, "column": name}


async def rename_column(store: Any, table: str, old: str, new: str) -> dict[str, Any]:
    await store.rename_field(table, old, new)
    return {"success": True, "tableName": table, "oldName": old, "newName": new}


async def delete_table(store: Any, table: str) -> dict[str, Any]:
    await store.delete_class(table)
    return {"success": True, "deleted": True, "tableName": table}


async def export_schema(store: Any, fmt: str) -> str:
    if fmt not in ("postgres", "supabase", "json"):
        raise InvalidParamsError(f"unknown export format {fmt!r}: use postgres, supabase or json")
    text: str = await store.export_schema(fmt)
    return text


async def query_records(
    store: Any, request: Mapping[str, Any], caller: Any = None, *, default_limit: int = RECORDS_DEFAULT_LIMIT
) -> dict[str, Any]:
    collection = request.get("collection")
    if not isinstance(collection, str):
        raise InvalidParamsError("queryRecords needs a `collection`")
    sort = request.get("sort") or []
    if not isinstance(sort, list) or not all(isinstance(key, str) for key in sort):
        raise InvalidParamsError("`sort` must be an array of field names (`-name` for descending)")
    where = request.get("where") or {}
    if not isinstance(where, dict):
        raise InvalidParamsError("`where` must be an object")
    from sidecar.store import QueryOptions

    options = QueryOptions(
        where=where,
        order=tuple(sort),
        limit=_non_negative(request.get("limit"), default_limit, "limit"),
        skip=_non_negative(request.get("skip"), 0, "skip"),
        count=bool(request.get("count")),
    )
    result = await store.query(collection, options, caller or _master())
    answer: dict[str, Any] = {"results": result.results}
    if options.count:
        answer["count"] = result.count
    return answer


def _non_negative(value: Any, default: int, name: str) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidParamsError(f"`{name}` must be a non-negative integer")
    return value


async def record_count(store: Any, table: str) -> int:
    try:
        count: int = await store.count(table, {}, _master())
    except SidecarError:
        return 0  # the editor shows 0 for a table it cannot count
    return count


async def fetch_record(store: Any, collection: str, object_id: str, caller: Any = None) -> dict[str, Any]:
    found: dict[str, Any] = await store.fetch(collection, object_id, caller or _master())
    return found


async def create_record(
    store: Any, collection: str, data: Mapping[str, Any], caller: Any = None
) -> dict[str, Any]:
    created = await store.create(collection, data, caller or _master())
    return dict(created.object)


async def save_record(
    store: Any, collection: str, object_id: str, data: Mapping[str, Any], caller: Any = None
) -> dict[str, Any]:
    saved = await store.save(collection, object_id, data, caller or _master())
    return dict(saved.object)


async def delete_record(store: Any, collection: str, object_id: str, caller: Any = None) -> dict[str, Any]:
    await store.delete(collection, object_id, caller or _master())
    return {"success": True}


def _master() -> Any:
    from sidecar.store import CallerContext

    return CallerContext.master()
