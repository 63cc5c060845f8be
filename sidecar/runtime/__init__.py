"""CloudRunner-compatible graph runtime: run Noodl cloud functions as OpenNoodl does.

Public surface (pinned by ``tests/runtime/test_public_surface.py``)::

    runtime = Runtime.from_export(export_json, records=port, js=shared_engine)  # WorkflowExportError
    response = await runtime.run("echo", make_request({"message": "hi"}), recorder=recorder)
    response.status_code, response.body, response.outcome
    node_library()                                     # IPC runtime:nodeLibrary

Later runs of a function start from a copy of its first run's scope after the setup frame when every
node in it sets up the same way every run (``scope_template``): answers and recorded steps are those
of a fresh build; warnings logged while building (a dropped connection) then appear on the first run.

A hot swap builds the new ``Runtime`` first and replaces the reference; a run keeps the runtime it
started with until it settles, so in-flight runs are never dropped.

Outcomes (``answers``): RESPONDED (a Response node answered; body byte-identical to the real
runner), REJECTED (500 ``{"error"}``, where the cloud's isolate host answered 400), NOT_FOUND (404
``Function '<name>' not found``), TIMED_OUT (504 ``function/timeout``). A run's response is what
every caller answers and records: the HTTP door, ``function:run``, the history and ``run`` agree.

Compatibility decisions:
- a script that throws is logged and recorded; the run then ends as the real one would, by the
  timeout answer; scripts that hit their time or memory limit fail the run at once (REJECTED);
- Run Tasks with no items keeps the real behaviour (Success only, no Done), answered by the timeout;
- the Request node does not wait for ``GET /config`` (#20); Config nodes read a 15-minute cache
  fetched before the run;
- Filter Records compares ``$lte``/``$nin`` with their own operands (#19 fixed);
- records read from the store list user fields before ``createdAt``/``updatedAt``, as Parse does;
- access-control inputs of Records nodes are accepted and not applied (functions run as admin);
- Expression/Function scripts run in QuickJS: async continuations run right after the call that
  started them rather than after the current frame.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sidecar.runtime.answers import FunctionResponse, Outcome
    from sidecar.runtime.context import NoodlRequest
    from sidecar.runtime.export import ExportDef, load_export
    from sidecar.runtime.http_client import HttpClient, HttpResult
    from sidecar.runtime.jsengine import JsEngine, JsLimits
    from sidecar.runtime.library import node_library
    from sidecar.runtime.recorder import Recorder
    from sidecar.runtime.records_port import RecordQuery, RecordsPort
    from sidecar.runtime.runtime import DEFAULT_TIMEOUT_SECONDS, Runtime, make_request
    from sidecar.runtime.services import ConfigPort

# The surface loads on first access (PEP 562): other layers import light modules of this package
# (``sidecar.runtime.values`` for history's payloads) without loading the runtime and its JavaScript
# engine, which a backend needs only once a function is deployed or called (``sidecar.lazy``).
_SURFACE = {
    "FunctionResponse": "sidecar.runtime.answers",
    "Outcome": "sidecar.runtime.answers",
    "NoodlRequest": "sidecar.runtime.context",
    "ExportDef": "sidecar.runtime.export",
    "load_export": "sidecar.runtime.export",
    "HttpClient": "sidecar.runtime.http_client",
    "HttpResult": "sidecar.runtime.http_client",
    "JsEngine": "sidecar.runtime.jsengine",
    "JsLimits": "sidecar.runtime.jsengine",
    "node_library": "sidecar.runtime.library",
    "Recorder": "sidecar.runtime.recorder",
    "RecordQuery": "sidecar.runtime.records_port",
    "RecordsPort": "sidecar.runtime.records_port",
    "DEFAULT_TIMEOUT_SECONDS": "sidecar.runtime.runtime",
    "Runtime": "sidecar.runtime.runtime",
    "make_request": "sidecar.runtime.runtime",
    "ConfigPort": "sidecar.runtime.services",
}

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "ConfigPort",
    "ExportDef",
    "FunctionResponse",
    "HttpClient",
    "HttpResult",
    "JsEngine",
    "JsLimits",
    "NoodlRequest",
    "Outcome",
    "RecordQuery",
    "Recorder",
    "RecordsPort",
    "Runtime",
    "load_export",
    "make_request",
    "node_library",
]


def __getattr__(name: str) -> Any:
    module = _SURFACE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
