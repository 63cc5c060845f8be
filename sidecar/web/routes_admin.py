"""Master routes and server metadata: ``/schemas``, ``/serverInfo``, ``/config``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sidecar.errors import InvalidClassNameError, InvalidJsonError
from sidecar.web.router import Access, Call, Route
from sidecar.web.wire import Reply

_FEATURES = {
    "globalConfig": {"create": True, "read": True, "update": True, "delete": True},
    "hooks": {"create": False, "read": False, "update": False, "delete": False},
    "cloudCode": {"jobs": False},
    "logs": {"level": False, "size": False, "order": False, "until": False, "from": False},
    "push": {"immediatePush": False, "scheduledPush": False, "storedPushData": False},
    "schemas": {
        "addField": True,
        "removeField": True,
        "addClass": True,
        "removeClass": True,
        "clearAllDataFromClass": False,
        "exportClass": False,
        "editClassLevelPermissions": True,
        "editPointerPermissions": True,
    },
}


def _definition(call: Call, class_name: str) -> dict[str, Any]:
    """The body minus ``className``, which must agree with the path when both are given (103)."""
    body = dict(call.params)
    named = body.pop("className", class_name)
    if named != class_name:
        raise InvalidClassNameError(f"Class name mismatch between {named} and {class_name}.")
    return body


async def list_schemas(call: Call) -> Reply:
    return Reply({"results": await call.services.store.list_schemas()})


async def get_schema(call: Call) -> Reply:
    return Reply(await call.services.store.get_schema(call.args["className"]))


async def create_schema(call: Call) -> Reply:
    class_name = call.args.get("className") or call.params.get("className")
    if not isinstance(class_name, str) or not class_name:
        raise InvalidClassNameError("POST /schemas needs a class name.")
    definition = _definition(call, class_name)
    return Reply(await call.services.store.create_class(class_name, definition))


async def update_schema(call: Call) -> Reply:
    class_name = call.args["className"]
    return Reply(await call.services.store.update_class(class_name, _definition(call, class_name)))


async def delete_schema(call: Call) -> Reply:
    await call.services.store.delete_class(call.args["className"])
    return Reply({})


async def server_info(call: Call) -> Reply:
    return Reply({"parseServerVersion": call.services.settings.server_version, "features": _FEATURES})


async def get_config(call: Call) -> Reply:
    return Reply(await call.services.config.visible(call.caller.is_master))


async def put_config(call: Call) -> Reply:
    params = call.params.get("params", {})
    master_only = call.params.get("masterKeyOnly") or {}
    if not isinstance(params, Mapping) or not isinstance(master_only, Mapping):
        raise InvalidJsonError("params and masterKeyOnly must be objects")
    await call.services.config.merge(params, master_only)
    return Reply({"result": True})


ROUTES: list[Route] = [
    Route("GET", "/schemas", list_schemas, Access.MASTER),
    Route("POST", "/schemas", create_schema, Access.MASTER),
    Route("GET", "/schemas/:className", get_schema, Access.MASTER),
    Route("POST", "/schemas/:className", create_schema, Access.MASTER),
    Route("PUT", "/schemas/:className", update_schema, Access.MASTER),
    Route("DELETE", "/schemas/:className", delete_schema, Access.MASTER),
    Route("GET", "/serverInfo", server_info, Access.MASTER),
    Route("GET", "/config", get_config),
    Route("PUT", "/config", put_config, Access.MASTER),
]
