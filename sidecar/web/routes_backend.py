"""The backend's own HTTP routes: ``/admin/*`` and ``/executions*``.

These are the editor's routes rather than Parse's: JSON in and out, the admin token as
``Authorization: Bearer`` (or ``X-Parse-Master-Key``), ``{error}`` bodies. Each handler
parses the wire and calls the same backend services the stdio channels call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from aiohttp import web

from sidecar.backends import data
from sidecar.backends.workflow_versions import WorkflowVersion, WorkflowVersionNotFoundError
from sidecar.errors import InvalidParamsError, SidecarError
from sidecar.web.auth import require_admin
from sidecar.web.body import decode_json_object, header_credentials
from sidecar.web.settings import WebSettings
from sidecar.web.wire import json_response

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BackendServices(Protocol):
    """What these routes reach on the backend they serve (``sidecar.backends.backend.Backend``)."""

    @property
    def backend_id(self) -> str: ...

    @property
    def store(self) -> Any: ...

    bus: Any
    workflows: Any
    history: Any
    triggers: Any
    running: Any

    def health(self) -> dict[str, Any]: ...

    def require_writable(self, action: str) -> None:
        """Raise when the backend's project is open read-only (``sidecar.backends.read_only``)."""


# Credentials a browser's EventSource can only send in the query string.
_QUERY_CREDENTIALS = ("authToken", "apiKey", "token", "sessionToken")
_HEARTBEAT_S = 25.0
_TICK_S = 0.5  # how soon a stream notices that its client left or the backend is stopping
_DRAIN_S = 0.01  # how often a stream with a backlog looks for room in its socket


def admin_only(settings: WebSettings, handler: Handler, *, event_stream: bool = False) -> Handler:
    """Refuse without the admin token (401); the door's middleware shapes every error and counts failed
    tokens. Only an ``event_stream`` route (SSE: a browser's EventSource cannot send headers) also takes
    the token as ``?authToken=``; elsewhere a token in a URL, which ends up in logs and can be sent by
    any page, is no credential."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        credentials = header_credentials(request.headers)
        if event_stream and credentials.bearer is None and "authToken" in request.query:
            credentials = replace(credentials, bearer=request.query["authToken"])
        require_admin(credentials, settings)
        return await handler(request)

    return guarded


_TEST_RUN_KEYS = frozenset({"body", "headers", "pins", "breakpoints", "useSavedPins"})


def _debug_body(body: Mapping[str, Any], known: frozenset[str] | set[str]) -> Mapping[str, Any]:
    """A debugging route's JSON object; a misspelt key is refused rather than ignored."""
    unknown = set(body) - set(known)
    if unknown:
        raise InvalidParamsError(
            f"unknown keys: {', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})"
        )
    return body


async def json_body(request: web.Request) -> dict[str, Any]:
    return decode_json_object(await request.read())


@dataclass(frozen=True)
class BackendRoutes:
    routes: list[web.RouteDef]
    close: Callable[[], None]
    """Ends open event streams, so stopping the server never waits on them."""


def backend_routes(backend: BackendServices, settings: WebSettings) -> BackendRoutes:
    """Every route of this module, bound to ``backend``; mount them before the Parse catch-all."""
    admin = _AdminRoutes(backend)
    guarded = [
        web.get("/admin/status", admin.status),
        web.get("/admin/schema", admin.schema),
        web.get("/admin/schema/{table}", admin.table_schema),
        web.post("/admin/schema", admin.change_schema),
        web.get("/admin/schema-export", admin.export_schema),
        web.get("/admin/workflows", admin.workflows),
        web.put("/admin/workflows/{name}", admin.deploy_workflow),
        web.delete("/admin/workflows/{name}", admin.remove_workflow),
        web.post("/admin/workflows/reload", admin.reload_workflows),
        web.get("/admin/workflows/versions", admin.workflow_versions),
        web.post("/admin/workflows/versions/{version}/rollback", admin.rollback_workflow),
        web.get("/executions", admin.list_executions),
        web.get("/executions/stream", admin.stream_executions),
        web.get("/executions/{id}", admin.get_execution),
        web.get("/executions/{id}/pin", admin.pin_execution),
        web.get("/executions/{id}/steps/{step}/{side}", admin.step_value),
        web.post("/executions/{id}/rerun", admin.rerun_execution),
        web.post("/executions/{id}/cancel", admin.cancel_execution),
        web.post("/executions/{id}/run-from", admin.run_from_node),
        web.post("/executions/{id}/continue", admin.continue_execution),
        web.post("/executions/{id}/step", admin.step_execution),
        web.get("/admin/debug/pins/{name:.+}", admin.get_pins),
        web.put("/admin/debug/pins/{name:.+}", admin.set_pins),
        web.post("/admin/debug/run/{name:.+}", admin.debug_test_run),
        web.get("/admin/triggers", admin.list_triggers),
        web.post("/admin/triggers", admin.create_trigger),
        web.get("/admin/triggers/{id}", admin.get_trigger),
        web.put("/admin/triggers/{id}", admin.update_trigger),
        web.delete("/admin/triggers/{id}", admin.delete_trigger),
        web.post("/admin/triggers/{id}/enabled", admin.set_trigger_enabled),
        web.post("/admin/triggers/{id}/fire", admin.fire_trigger),
    ]
    streams = {admin.stream_executions}
    routes = [
        web.route(
            route.method,
            route.path,
            admin_only(settings, route.handler, event_stream=route.handler in streams),
        )
        for route in guarded
    ]
    return BackendRoutes(routes, admin.closing.set)


def _deployed(deploy: Callable[[], WorkflowVersion]) -> web.StreamResponse:
    """``{success, version}``, or 400 ``{success: false, error, problems}`` when the deploy is refused
    (the running bundle stays); a version not kept is the error envelope's 404."""
    try:
        version = deploy()
    except (InvalidParamsError, WorkflowVersionNotFoundError):
        raise
    except SidecarError as exc:
        problems = exc.data.get("problems", []) if isinstance(exc.data, dict) else []
        return json_response({"success": False, "error": exc.message, "problems": problems}, 400)
    return json_response({"success": True, "version": version.to_json()})


def _gone(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()


class _AdminRoutes:
    def __init__(self, backend: BackendServices) -> None:
        self.backend = backend
        self.closing = asyncio.Event()

    async def status(self, _request: web.Request) -> web.StreamResponse:
        return json_response(self.backend.health())

    # ---- schema --------------------------------------------------------------------------

    async def schema(self, _request: web.Request) -> web.StreamResponse:
        return json_response(await data.get_schema(self.backend.store))

    async def table_schema(self, request: web.Request) -> web.StreamResponse:
        found = await data.get_table_schema(self.backend.store, request.match_info["table"])
        if found is None:
            return json_response({"error": f"Table not found: {request.match_info['table']}"}, 404)
        return json_response(found)

    async def change_schema(self, request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        store = self.backend.store
        action, table = body.get("action"), body.get("table")
        self.backend.require_writable("change the schema")
        if action == "createTable":
            definition = {"name": table, "columns": body.get("columns") or []}
            return json_response(await data.create_table(store, definition))
        if not isinstance(table, str):
            raise InvalidParamsError("the schema action needs a `table`")
        if action == "addColumn":
            return json_response(await data.add_column(store, table, _mapping(body.get("column"), "column")))
        if action == "renameColumn":
            old, new = body.get("oldName"), body.get("newName")
            if not isinstance(old, str) or not isinstance(new, str):
                raise InvalidParamsError("renameColumn needs `oldName` and `newName`")
            return json_response(await data.rename_column(store, table, old, new))
        if action == "changeColumnType":
            column, new_type = body.get("column"), body.get("type")
            if not isinstance(column, str) or not isinstance(new_type, str):
                raise InvalidParamsError("changeColumnType needs `column` and `type`")
            return json_response(await data.change_column_type(store, table, column, new_type))
        if action == "deleteTable":
            return json_response(await data.delete_table(store, table))
        raise InvalidParamsError(f"unknown schema action {action!r}")

    async def export_schema(self, request: web.Request) -> web.StreamResponse:
        content = await data.export_schema(self.backend.store, request.query.get("format", "json"))
        return json_response({"content": content})

    # ---- workflows -----------------------------------------------------------------------

    async def workflows(self, _request: web.Request) -> web.StreamResponse:
        return json_response(self.backend.workflows.status())

    async def deploy_workflow(self, request: web.Request) -> web.StreamResponse:
        export = await json_body(request)
        self.backend.require_writable("deploy a workflow")
        answer = _deployed(lambda: self.backend.workflows.deploy(request.match_info["name"], export))
        await self.backend.workflows.share_pending()  # other replicas (PostgreSQL) know before we answer
        return answer

    async def workflow_versions(self, _request: web.Request) -> web.StreamResponse:
        versions = self.backend.workflows.list_versions()
        return json_response({"versions": [version.to_json() for version in versions]})

    async def rollback_workflow(self, request: web.Request) -> web.StreamResponse:
        text = request.match_info["version"]
        if not text.isdigit():
            raise InvalidParamsError(f"a version is a positive integer, not {text!r}")
        self.backend.require_writable("roll back a workflow")
        answer = _deployed(lambda: self.backend.workflows.rollback(int(text)))
        await self.backend.workflows.share_pending()
        return answer

    async def remove_workflow(self, request: web.Request) -> web.StreamResponse:
        self.backend.require_writable("remove a workflow")
        removed = self.backend.workflows.remove(request.match_info["name"])
        await self.backend.workflows.share_pending()
        return json_response({"success": removed}, 200 if removed else 404)

    async def reload_workflows(self, _request: web.Request) -> web.StreamResponse:
        return json_response({"success": True, "count": self.backend.workflows.load_all()})

    # ---- executions ----------------------------------------------------------------------

    async def list_executions(self, request: web.Request) -> web.StreamResponse:
        query = {key: value for key, value in request.query.items() if key not in _QUERY_CREDENTIALS}
        page = await self.backend.history.list_executions(query)
        return json_response(page["executions"])  # the contract's bare array

    async def stream_executions(self, request: web.Request) -> web.StreamResponse:
        """SSE of execution events; ``Last-Event-ID`` replays everything after it from the database.

        Live events are written from inside ``publish`` (``sidecar.web.direct_sse``), so a busy event
        loop does not hold them back; this task only writes the replay, drains the backlog a slow
        client leaves, and sends heartbeats."""
        from sidecar.events import EventPosition
        from sidecar.web.direct_sse import DirectStream

        last_event_id = request.headers.get("Last-Event-ID") or request.query.get("lastEventId")
        position = EventPosition.parse(last_event_id) if last_event_id else None  # 400 while possible
        workflow_id = request.query.get("workflowId")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache, no-transform",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)  # a StreamResponse sends its headers here: frames may follow
        bus = self.backend.bus
        stream = DirectStream(
            request.transport,
            chunked=response.headers.get("Transfer-Encoding") == "chunked",
            backend_id=self.backend.backend_id,
            workflow_id=workflow_id,
        )
        subscription = bus.subscribe(self.backend.backend_id, workflow_id, sink=stream.offer)
        quiet_since = time.monotonic()
        try:
            if position is not None:
                stream.replayed[position.execution_id] = position.seq
                for event in await self.backend.history.events_after(position, workflow_id):
                    stream.replay(event)
            stream.live()
            while not self.closing.is_set() and not _gone(request) and subscription.closed_reason is None:
                await asyncio.sleep(_DRAIN_S if stream.backlog.waiting else _TICK_S)
                stream.drain()
                if time.monotonic() - quiet_since >= _HEARTBEAT_S:
                    stream.write(b":\n\n")
                    quiet_since = time.monotonic()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            bus.unsubscribe(subscription.id)
        return response

    async def get_execution(self, request: web.Request) -> web.StreamResponse:
        found = await self.backend.history.get_execution(request.match_info["id"])
        if found is None:
            return json_response({"error": "Execution not found"}, 404)
        return json_response(found)

    # ---- debugging (sidecar.debugging.service: the same operations as the execution:* channels) ----

    async def pin_execution(self, request: web.Request) -> web.StreamResponse:
        from sidecar.debugging import service

        return json_response(await service.pin([self.backend], request.match_info["id"]))

    async def step_value(self, request: web.Request) -> web.StreamResponse:
        from sidecar.debugging import service

        step_id = request.match_info["step"]
        if service.execution_of_step(step_id) != request.match_info["id"]:
            raise InvalidParamsError(f"step {step_id} is not a step of execution {request.match_info['id']}")
        value = await service.step_value(
            [self.backend], step_id, request.match_info["side"], request.query.get("port")
        )
        return json_response(value)

    async def rerun_execution(self, request: web.Request) -> web.StreamResponse:
        """An empty body re-runs the recorded request; a JSON object holds the edits
        (``sidecar.debugging.replay``)."""
        from sidecar.debugging import service

        raw = await request.read()
        edits = decode_json_object(raw) if raw.strip() else None
        return json_response(await service.rerun([self.backend], request.match_info["id"], edits))

    async def cancel_execution(self, request: web.Request) -> web.StreamResponse:
        from sidecar.debugging import service

        return json_response(await service.cancel([self.backend], request.match_info["id"]))

    async def run_from_node(self, request: web.Request) -> web.StreamResponse:
        """Body ``{nodeId, pins?, breakpoints?}`` (``sidecar.debugging.testrun``)."""
        from sidecar.debugging import service

        body = _debug_body(await json_body(request), {"nodeId", "pins", "breakpoints"})
        node_id = body.get("nodeId")
        if not isinstance(node_id, str) or not node_id:
            raise InvalidParamsError("nodeId (the node to run from) is required")
        answer = await service.run_from(
            [self.backend], request.match_info["id"], node_id, body.get("pins"), body.get("breakpoints")
        )
        return json_response(answer)

    async def continue_execution(self, request: web.Request) -> web.StreamResponse:
        from sidecar.debugging import service

        return json_response(service.resume([self.backend], request.match_info["id"], step=False))

    async def step_execution(self, request: web.Request) -> web.StreamResponse:
        from sidecar.debugging import service

        return json_response(service.resume([self.backend], request.match_info["id"], step=True))

    async def get_pins(self, request: web.Request) -> web.StreamResponse:
        from sidecar.debugging import service

        return json_response(service.get_pins(self.backend, request.match_info["name"]))

    async def set_pins(self, request: web.Request) -> web.StreamResponse:
        """Body: the pins ``{nodeId: {port: value}}`` (``{}`` clears them)."""
        from sidecar.debugging import service

        pins = await json_body(request)
        return json_response(service.set_pins(self.backend, request.match_info["name"], pins))

    async def debug_test_run(self, request: web.Request) -> web.StreamResponse:
        """Body ``{body?, headers?, pins?, breakpoints?, useSavedPins?}``, as ``debug:test-run``."""
        from sidecar.debugging import service

        raw = await request.read()
        wanted = _debug_body(decode_json_object(raw) if raw.strip() else {}, _TEST_RUN_KEYS)
        headers = wanted.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise InvalidParamsError("headers must map header names to text")
        use_saved = wanted.get("useSavedPins", True)
        if not isinstance(use_saved, bool):
            raise InvalidParamsError("useSavedPins must be true or false")
        answer = await service.run_test(
            self.backend,
            request.match_info["name"],
            wanted.get("body"),
            {str(k).lower(): v for k, v in headers.items()},
            wanted.get("pins"),
            wanted.get("breakpoints"),
            use_saved,
        )
        return json_response(answer)

    # ---- triggers ------------------------------------------------------------------------

    async def list_triggers(self, _request: web.Request) -> web.StreamResponse:
        return json_response(self.backend.triggers.list_triggers())

    async def create_trigger(self, request: web.Request) -> web.StreamResponse:
        return json_response(await self.backend.triggers.create_trigger(await json_body(request)), 201)

    async def get_trigger(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.backend.triggers.get_trigger(request.match_info["id"]))

    async def update_trigger(self, request: web.Request) -> web.StreamResponse:
        definition = await json_body(request)
        return json_response(await self.backend.triggers.update_trigger(request.match_info["id"], definition))

    async def delete_trigger(self, request: web.Request) -> web.StreamResponse:
        return json_response(self.backend.triggers.delete_trigger(request.match_info["id"]))

    async def set_trigger_enabled(self, request: web.Request) -> web.StreamResponse:
        enabled = (await json_body(request)).get("enabled")
        if not isinstance(enabled, bool):
            raise InvalidParamsError("`enabled` must be true or false")
        return json_response(
            await self.backend.triggers.set_trigger_enabled(request.match_info["id"], enabled)
        )

    async def fire_trigger(self, request: web.Request) -> web.StreamResponse:
        from sidecar.triggers.payloads import admin_fire_payload

        payload = admin_fire_payload(await json_body(request))
        return json_response(await self.backend.triggers.fire_trigger(request.match_info["id"], payload))


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InvalidParamsError(f"`{name}` must be an object")
    return value
