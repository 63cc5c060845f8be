"""``Runtime``: one loaded export and ``run(name, request)`` with the CloudRunner contract.

A run: create a request scope → instantiate ``/#__cloud__/<name>`` → find the top-level Request node
→ on the next loop turn send the request into the graph → resolve with the first Response, a
rejection, or the timeout answer (504 ``function/timeout``), whichever comes first. What each of
those answers is comes from ``answers``; an exception escaping the runtime's own code while it
builds or starts the run is a rejection too, never a crash of the caller.

Later runs of a function whose first scope could be captured (``scope_template``) start from a copy
of that scope as its setup frame left it, instead of instantiating and setting it up again. A small
scope is captured during its first run; a large one from a scope built for the purpose, in a worker
thread, so the event loop is never held by the capture (runs build until it is ready).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import string
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import structlog

from sidecar.errors import ScriptError
from sidecar.python_runtime import PythonPool
from sidecar.runtime import answers
from sidecar.runtime.answers import FunctionResponse
from sidecar.runtime.component import ComponentInstance, instantiate
from sidecar.runtime.context import NoodlRequest, RunContext
from sidecar.runtime.export import CLOUD_PREFIX, ComponentDef, ExportDef, load_export
from sidecar.runtime.http_client import HttpClient
from sidecar.runtime.jsengine import JsEngine, may_change_builtins
from sidecar.runtime.node import Node
from sidecar.runtime.nodes import NODE_TYPES
from sidecar.runtime.nodes.io import RequestNode
from sidecar.runtime.recorder import Recorder
from sidecar.runtime.records_port import RecordsPort
from sidecar.runtime.scope_template import MAX_NODES, ScopeTemplate, capture, capture_off_loop, copyable
from sidecar.runtime.services import ConfigPort, RunServices
from sidecar.runtime.values import js_stringify

if TYPE_CHECKING:
    from sidecar.ai.port import AiPort

DEFAULT_TIMEOUT_SECONDS = 30.0
CONFIG_TTL_SECONDS = 15 * 60
# Frames a run may go through inside its first step before it yields to the loop like any other (a chain
# of frames longer than this is rare, and the cap keeps one run from holding the loop).
MAX_FRAMES_AT_START = 20
_COMPONENT_TYPES = ("Component Inputs", "Component Outputs")

log = structlog.get_logger()


_RUN_PREFIX = "".join(secrets.choice(string.ascii_lowercase) for _ in range(6))
_run_numbers = itertools.count(1)


def _run_id() -> str:
    """Unique within the process (run ids key the JS bridge's state), random across processes."""
    return f"{_RUN_PREFIX}{next(_run_numbers):x}"


def unknown_node_types(export: ExportDef, node_types: Mapping[str, Any]) -> list[str]:
    """``component: node (type)`` for every node the real runner would drop at load."""
    found = []
    for component in export.components.values():
        for node in component.walk_nodes():
            known = node.type in node_types or node.type in export.components or node.type in _COMPONENT_TYPES
            if not known:
                found.append(f"{component.name}: node {node.id!r} has unknown type {node.type!r}")
    return found


class Runtime:
    """Runs the cloud functions of one export; safe for any number of concurrent runs."""

    def __init__(
        self,
        export: ExportDef,
        *,
        js: JsEngine | None = None,
        records: RecordsPort | None = None,
        config: ConfigPort | None = None,
        http: HttpClient | None = None,
        python: PythonPool | None = None,
        ai: AiPort | None = None,
        node_types: Mapping[str, type[Node]] | None = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        """``node_types``: the library (the built-in one by default; a backend's adds its Python packs)."""
        self.export = export
        node_types = NODE_TYPES if node_types is None else node_types
        self.timeout_seconds = timeout_seconds
        sources = list(_strings_in(export))
        self.services = RunServices(
            export=export,
            node_types=node_types,
            js=js or JsEngine(),
            records=records,
            config=config,
            http=http,
            settings_json=_readable_json(export.settings, sources, _READS_SETTINGS),
            metadata_json=_readable_json(export.metadata, sources, _READS_METADATA),
            js_changes_builtins=may_change_builtins(sources),
            python=python,
            ai=ai,
        )
        self.warnings = unknown_node_types(export, node_types)
        self._config = ConfigCache(config) if config is not None and _uses_config(export) else None
        self._request_ids: dict[str, tuple[str, ...]] = {}  # per function, built on its first run
        # Per function, after its first run: the template later runs start from, None when it has none.
        self._templates: dict[str, ScopeTemplate | None] = {}
        self._captures: set[asyncio.Task[None]] = set()  # large scopes being captured off the loop
        for warning in self.warnings:
            log.warning("node dropped at load", detail=warning)

    @classmethod
    def from_export(cls, data: object, **options: Any) -> Runtime:
        """Validate a parsed export (raises ``WorkflowExportError``) and build its runtime."""
        return cls(load_export(data), **options)

    def has_function(self, name: str) -> bool:
        return CLOUD_PREFIX + name in self.export.components

    async def run(
        self,
        name: str,
        request: NoodlRequest,
        *,
        recorder: Recorder | None = None,
        timeout_seconds: float | None = None,
        on_start: Callable[[RunContext], None] | None = None,
        debug: Any = None,
    ) -> FunctionResponse:
        """Run function ``name``; ``on_start`` is handed the run's context once the recorder knows the run
        (``sidecar.debugging.running`` keeps it to cancel the run with ``RunContext.settle``).
        ``debug``: a test run's ``sidecar.debugging.session.DebugSession`` (pins, replays, breakpoints);
        its run builds a fresh scope (no template) and its timeout stops while it is paused."""
        component = self.export.components.get(CLOUD_PREFIX + name)
        if component is None:
            return answers.not_found(name)
        ctx = RunContext(self.services, _run_id(), name, request, recorder)
        ctx.debug = debug
        if self._config is not None:
            ctx.config = await self._config.get()
        if recorder is not None:
            recorder.run_started(ctx.run_id, name, {"headers": request.headers, "body": request.body})
        if on_start is not None:
            on_start(ctx)
        limit = self.timeout_seconds if timeout_seconds is None else timeout_seconds
        timer: Any = None
        if limit > 0:
            ctx.deadline = ctx.loop.time() + limit
            if debug is not None:
                timer = debug.timeout(ctx, limit, lambda: self._time_out(ctx, limit))
        try:
            ctx.strand.run(self._start_or_fail, ctx, component)
            if not ctx.settled:
                ctx.wait_briefly()  # a quick answer (a Python call's) continues the run without the loop
            # A run that answered within its first step (most do) never needed a timer; one that goes
            # on gets it now, due at the same deadline (it could not have fired before the loop's turn).
            if timer is None and ctx.deadline is not None and not ctx.settled:
                timer = ctx.loop.call_at(ctx.deadline, self._time_out, ctx, limit)
            response = await ctx.result
        finally:
            if timer is not None:
                timer.cancel()
            if not ctx.settled:  # the awaiting task was cancelled: free the run all the same
                ctx.teardown()
            if debug is not None:
                debug.finish()
        if recorder is not None:
            recorder.run_finished(ctx.run_id, response.status_code, response.body, response.outcome.value)
        return response

    def _start_or_fail(self, ctx: RunContext, component: ComponentDef) -> None:
        """``_start`` as a piece of the run's work (it may pause while a script runs)."""
        try:
            self._start(ctx, component)
        except Exception as error:  # a fault while building: the run fails, its caller gets the answer
            log.exception("function run failed to start", function=ctx.function)
            ctx.reject(str(error) or type(error).__name__)

    def _start(self, ctx: RunContext, component: ComponentDef) -> None:
        debug = ctx.debug
        template = self._templates.get(component.name) if debug is None else None
        if template is not None and template.engine_generation != self.services.js.generation:
            template = None  # its expression handles went with the engine's reset: build and capture again
            del self._templates[component.name]
        instance_id = f"{ctx.run_id}-{ctx.function}"
        try:
            if template is not None:
                instance = template.build(ctx, instance_id)
            else:
                instance = instantiate(ctx, component, instance_id)
        except ScriptError as error:
            ctx.reject(error.message)
            return
        if debug is not None:
            debug.attach(ctx, instance.inner)
        request_node = self._request_node(component, instance)
        if not isinstance(request_node, RequestNode):
            ctx.reject("Could not find request node for function")
            return
        if ctx.deferred:  # building the scope handed work to the loop: keep the loop's order
            ctx.loop.call_soon(ctx.strand.run, self._send_request, ctx, request_node)
            return
        if template is None:
            ctx.run_frames_now(1)  # the setup frame, which the loop would run next anyway
            if component.name not in self._templates and debug is None:
                self._templates[component.name] = self._capture(ctx, component, instance)
        self._send_request(ctx, request_node)
        ctx.run_frames_now(MAX_FRAMES_AT_START)

    def _capture(
        self, ctx: RunContext, component: ComponentDef, instance: ComponentInstance
    ) -> ScopeTemplate | None:
        """The template of a small scope at once; for a large one that may be copied, None for now and a
        capture off the loop that installs the template when it is ready."""
        if len(ctx.nodes) <= MAX_NODES:
            return capture(ctx, instance)
        if copyable(ctx):
            task = ctx.loop.create_task(self._capture_off_loop(component, ctx.function))
            self._captures.add(task)
            task.add_done_callback(self._captures.discard)
        return None

    async def _capture_off_loop(self, component: ComponentDef, function: str) -> None:
        """Build a scope that no run uses, set it up, and write and compile its copy in a worker thread."""
        ctx = RunContext(self.services, _run_id(), function, NoodlRequest({}, ""), None)
        try:
            instance = instantiate(ctx, component, f"{ctx.run_id}-{function}")
            ctx.run_frames_now(1)
            if not copyable(ctx):
                return
            generation = self.services.js.generation
            template = await ctx.loop.run_in_executor(None, capture_off_loop, ctx, instance, generation)
        except Exception:  # the function keeps building; its runs are unaffected
            log.exception("capturing a scope failed", function=function)
            return
        finally:
            ctx.teardown()
        current = template is not None and template.engine_generation == self.services.js.generation
        if current and self._templates.get(component.name, template) is None:
            self._templates[component.name] = template

    def copies_scope(self, function: str) -> bool:
        """Whether runs of ``function`` start from a copy of its scope (``scope_template``)."""
        return self._templates.get(CLOUD_PREFIX + function) is not None

    async def scope_captures(self) -> None:
        """Wait until the scope captures under way off the loop are over (tests, benchmarks)."""
        while self._captures:
            await asyncio.gather(*self._captures, return_exceptions=True)

    def _request_node(self, component: ComponentDef, instance: ComponentInstance) -> Node | None:
        request_ids = self._request_ids.get(component.name)
        if request_ids is None:
            request_ids = tuple(n.id for n in component.walk_nodes() if n.type == RequestNode.TYPE)
            self._request_ids[component.name] = request_ids
        return next((instance.inner[i] for i in request_ids if i in instance.inner), None)

    @staticmethod
    def _send_request(ctx: RunContext, request_node: RequestNode) -> None:
        if ctx.settled:
            return
        if ctx.debug is not None:
            ctx.debug.start()
        ctx.start_recording_steps()
        recorder = ctx.step_recorder
        try:
            if recorder is not None:
                ctx.note_node_start(request_node, {"headers": ctx.request.headers, "body": ctx.request.body})
            request_node.send_request()
            if recorder is not None:
                ctx.note_node_end(request_node)
        except Exception as error:  # a throw while sending rejects run()
            ctx.reject(str(error) or type(error).__name__)

    @staticmethod
    def _time_out(ctx: RunContext, limit: float) -> None:
        ctx.settle(answers.timed_out(ctx.function, limit))


def _strings_in(export: ExportDef) -> Iterator[str]:
    """Every string parameter of every node: scripts, expressions, filters, array literals."""
    for component in export.components.values():
        for node in component.walk_nodes():
            for value in node.parameters.values():
                if isinstance(value, str):
                    yield value


# What Noodl.getProjectSettings() and Noodl.getMetaData() answer, as in CloudRunner: the export's own
# `settings` and `metadata` objects (the metadata's collection schemas also type Noodl.Records filters).
# Each run hands them to the engine as text (~20 µs of CPU per run for 35 KB of schemas), so an export
# whose scripts never name what reads them hands over `{}`.
_READS_SETTINGS = ("ProjectSettings",)
_READS_METADATA = ("MetaData", "Records")


def _readable_json(value: Mapping[str, Any], sources: list[str], readers: tuple[str, ...]) -> str:
    if not value or not any(reader in source for source in sources for reader in readers):
        return "{}"
    return json.dumps(value)


def _uses_config(export: ExportDef) -> bool:
    return any(node.type == "DbConfig" for c in export.components.values() for node in c.walk_nodes())


class ConfigCache:
    """Config parameters shared by runs for 15 minutes, as the real runner's ConfigService."""

    def __init__(self, port: ConfigPort, ttl_seconds: float = CONFIG_TTL_SECONDS) -> None:
        self._port = port
        self._ttl = ttl_seconds
        self._value: Mapping[str, Any] | None = None
        self._fetched_at = 0.0

    async def get(self) -> Mapping[str, Any] | None:
        now = time.monotonic()
        if self._value is None or now - self._fetched_at > self._ttl:
            try:
                self._value = await self._port.get_config()
            except Exception as error:  # a config failure leaves Config nodes empty, never fails the run
                log.warning("config fetch failed", error=repr(error))
                return self._value
            self._fetched_at = now
        return self._value


def make_request(body: Any = None, headers: Mapping[str, str] | None = None) -> NoodlRequest:
    """A ``NoodlRequest`` from a parsed body (JSON-encoded like the local backend) or raw text."""
    text = body if isinstance(body, str) else (js_stringify(body if body is not None else {}) or "")
    return NoodlRequest(headers=dict(headers or {}), body=text)
