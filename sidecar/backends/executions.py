"""Execution history across the running backends, in the editor's shapes.

The editor's history panel asks once and shows every backend's runs together: each row
is stamped with its source, the union is sorted newest first and cut to ``limit``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sidecar.backends.backend import Backend
from sidecar.errors import (
    ExecutionNotFoundError,
    HistoryStorageError,
    InvalidHistoryQueryError,
    SidecarError,
)

DEFAULT_LIMIT = 100


def _selected(backends: list[Backend], query: Mapping[str, Any]) -> list[Backend]:
    wanted = query.get("backendId")
    return [b for b in backends if wanted is None or b.spec.backend_id == wanted]


async def list_executions(backends: list[Backend], query: Mapping[str, Any]) -> dict[str, Any]:
    params = {key: value for key, value in query.items() if key != "backendId"}
    executions: list[dict[str, Any]] = []
    sources: list[dict[str, Any]] = []
    for backend in _selected(backends, query):
        source: dict[str, Any] = {
            "id": backend.spec.backend_id,
            "name": backend.spec.name,
            "kind": "backend",
            "reachable": True,
        }
        try:
            page = await backend.history.list_executions(params)
        except InvalidHistoryQueryError:
            raise  # a bad query is the caller's error, not an unreachable source
        except SidecarError as exc:
            source.update(reachable=False, count=0, error=exc.message)
            sources.append(source)
            continue
        rows = page["executions"]
        for row in rows:
            metadata = row.setdefault("metadata", {})
            metadata.setdefault("sourceId", backend.spec.backend_id)
            metadata.setdefault("sourceName", backend.spec.name)
        source["count"] = len(rows)
        sources.append(source)
        executions.extend(rows)
    executions.sort(key=lambda row: row.get("startedAt", 0), reverse=True)
    limit = query.get("limit", DEFAULT_LIMIT)
    result: dict[str, Any] = {"executions": executions[: int(limit)], "sources": sources}
    if not backends:
        result["error"] = "no backend is running"
    return result


async def get_execution(backends: list[Backend], execution_id: str) -> dict[str, Any] | None:
    for backend in backends:
        try:
            found: dict[str, Any] | None = await backend.history.get_execution(execution_id)
        except SidecarError:
            continue
        if found is not None:
            return found
    return None


async def delete_execution(backends: list[Backend], execution_id: str) -> dict[str, Any]:
    for backend in backends:
        try:
            result: dict[str, Any] = await backend.history.delete(execution_id)
        except (ExecutionNotFoundError, HistoryStorageError):
            continue  # not this backend's run, or its history is off
        return result
    raise ExecutionNotFoundError(execution_id)


async def clear_executions(backends: list[Backend], query: Mapping[str, Any]) -> dict[str, Any]:
    params = {key: value for key, value in query.items() if key != "backendId"}
    deleted = 0
    for backend in _selected(backends, query):
        deleted += (await backend.history.clear(params))["deleted"]
    return {"deleted": deleted}


async def stats(backends: list[Backend], backend_id: str, workflow_id: str | None) -> dict[str, Any]:
    for backend in backends:
        if backend.spec.backend_id == backend_id:
            return dict(await backend.history.stats(workflow_id))
    from sidecar.backends.manager import BackendNotRunningError

    raise BackendNotRunningError("read execution statistics")


async def rerun_execution(backends: list[Backend], execution_id: str) -> dict[str, Any]:
    """Run a past execution's function again with its recorded request (secrets left out).

    ``{statusCode, body, omitted}``; the new run's metadata names the original as ``retryOf``.
    """
    from sidecar.backends import functions

    for backend in backends:
        if await get_execution([backend], execution_id) is not None:
            request = await backend.history.rerun_request(execution_id)
            response = await functions.invoke(
                backend, request.function, request.body, request.headers, request.trigger
            )
            return {
                "statusCode": response.status_code,
                "body": response.body,
                "omitted": list(request.omitted),
            }
    raise ExecutionNotFoundError(execution_id)
