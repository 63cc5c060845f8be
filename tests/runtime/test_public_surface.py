"""The runtime's public names, and its place in the layers."""

from __future__ import annotations

import ast

import sidecar.runtime
from tests.conftest import PROJECT_ROOT

EXPECTED = {
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
}


def test_public_names_are_pinned() -> None:
    assert set(sidecar.runtime.__all__) == EXPECTED
    assert all(hasattr(sidecar.runtime, name) for name in EXPECTED)


def test_the_runtime_imports_no_store_web_or_ipc() -> None:
    forbidden = ("sidecar.store", "sidecar.web", "sidecar.ipc")
    offenders = []
    for path in (PROJECT_ROOT / "sidecar" / "runtime").rglob("*.py"):
        for item in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [item.module or ""] if isinstance(item, ast.ImportFrom) else []
            names += [alias.name for alias in item.names] if isinstance(item, ast.Import) else []
            offenders += [(path.name, n) for n in names if n.startswith(forbidden)]
    assert offenders == []
