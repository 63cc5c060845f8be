"""``POST /batch``: ``{requests: [{method, path, body}], transaction?}`` → a bare
array of ``{success}`` / ``{error}`` in request order, HTTP 200 even when items fail.

Paths must start with the mount as the server sees it (``//classes/X`` normalises for a root mount).
When every item is a plain class write (the SDK's ``saveAll``/``destroyAll``), the items go to the store
as one batch: one transaction, one commit. Anything else (GETs, signups, other routes) is routed item by
item through the same route table as single requests.
"""

from __future__ import annotations

import posixpath
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sidecar.errors import InvalidJsonError, LoginFailedError, SidecarError
from sidecar.store import BatchItemResult, BatchMethod, BatchOp
from sidecar.web.router import Call, Route
from sidecar.web.wire import Reply, error_body

_STORE_METHODS = {"POST": BatchMethod.CREATE, "PUT": BatchMethod.SAVE, "DELETE": BatchMethod.DELETE}
RunRoute = Callable[[Call, str, str, dict[str, Any]], Awaitable[Reply]]
"""Routes one sub-request ``(call, method, path, body)`` through the route table, checking its access."""
CanRoute = Callable[[str, str], bool]
"""Whether the route table has a route for ``(method, path)``."""


@dataclass(frozen=True)
class BatchItem:
    method: str
    path: str
    """Relative to the mount."""
    body: dict[str, Any]


def parse_items(params: Mapping[str, Any], mount_prefix: str) -> list[BatchItem]:
    requests = params.get("requests")
    if not isinstance(requests, list):
        raise InvalidJsonError("requests must be an array")
    return [_item(entry, mount_prefix) for entry in requests]


def _item(entry: Any, mount_prefix: str) -> BatchItem:
    if not isinstance(entry, Mapping):
        raise InvalidJsonError("each batch request must be an object")
    method, path, body = entry.get("method"), entry.get("path"), entry.get("body", {})
    if not isinstance(method, str) or not isinstance(path, str):
        raise InvalidJsonError("batch requests need a method and a path")
    if not isinstance(body, dict):
        raise InvalidJsonError("batch request body must be an object")
    normalised = posixpath.normpath("/" + path.lstrip("/"))
    if mount_prefix and not (normalised == mount_prefix or normalised.startswith(mount_prefix + "/")):
        raise InvalidJsonError(f"cannot route batch path {path}")
    return BatchItem(method.upper(), normalised[len(mount_prefix) :] or "/", dict(body))


def store_op(item: BatchItem) -> BatchOp | None:
    """The item as a store write, or ``None`` when it must be routed on its own."""
    parts = [part for part in item.path.split("/") if part]
    method = _STORE_METHODS.get(item.method)
    if method is None or len(parts) not in (2, 3) or parts[0] != "classes" or parts[1].startswith("_"):
        return None
    if (method is BatchMethod.CREATE) != (len(parts) == 2):
        return None
    return BatchOp(method, parts[1], item.body, parts[2] if len(parts) == 3 else None)


def make_batch_route(run_route: RunRoute, can_route: CanRoute) -> Route:
    async def batch(call: Call) -> Reply:
        items = parse_items(call.params, call.services.settings.mount_prefix)
        for item in items:
            # Parse Server refuses the whole batch for a path it cannot route (400, code 107); here it
            # is refused before any item runs, so nothing of it is half applied.
            if not can_route(item.method, item.path):
                raise InvalidJsonError(f"cannot route {item.method} {item.path}")
        ops = [store_op(item) for item in items]
        writes = [op for op in ops if op is not None]
        transaction = bool(call.params.get("transaction"))
        if writes and len(writes) == len(ops):
            outcomes = await call.services.store.batch(writes, call.caller, transaction=transaction)
            return Reply([_outcome(outcome) for outcome in outcomes])
        if transaction:
            raise InvalidJsonError(
                "a transactional batch may only contain class creates, updates and deletes"
            )
        return Reply([await _routed(call, run_route, item) for item in items])

    return Route("POST", "/batch", batch)


async def _routed(call: Call, run_route: RunRoute, item: BatchItem) -> dict[str, Any]:
    try:
        reply = await run_route(call, item.method, item.path, item.body)
    except LoginFailedError:
        # A wrong password in a batched login ends the batch, so the door counts it as a failed
        # credential: a batch cannot carry thousands of guesses past the limiter.
        raise
    except SidecarError as error:
        return {"error": error_body(error)}
    return {"success": reply.body}


def _outcome(outcome: BatchItemResult) -> dict[str, Any]:
    if outcome.error is not None:
        return {"error": error_body(outcome.error)}
    return {"success": outcome.success}
