"""The generated protocol files are current, valid TypeScript, and match the method table."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ipc_schema import generate
from ipc_schema.catalog import METHODS
from sidecar.backends.manager import BackendManager
from sidecar.backends.registry import BackendRegistry
from sidecar.ipc.session import BUILTIN_METHODS
from sidecar.stdio_main import build_method_table
from tests.conftest import PROJECT_ROOT


def test_generated_files_are_current() -> None:
    for name, text in generate.render().items():
        committed = (generate.GENERATED_DIR / name).read_text(encoding="utf-8")
        assert committed == text, f"ipc_schema/generated/{name} is stale: run `python -m ipc_schema.generate`"


def test_every_catalog_method_has_exactly_one_handler() -> None:
    manager = BackendManager(BackendRegistry(Path("/nonexistent")), lambda _change: None)
    table = build_method_table(manager, lambda _method, _params: None, diagnostics=True)
    assert sorted([*BUILTIN_METHODS, *table.names()]) == sorted(spec.name for spec in METHODS)


def test_params_schemas_are_argument_arrays() -> None:
    schema = generate.build_schema()
    initialize = schema["methods"]["initialize"]["params"]
    assert initialize["type"] == "array"
    assert initialize["minItems"] == initialize["maxItems"] == 1
    assert initialize["prefixItems"][0] == {"$ref": "#/$defs/InitializeOptions", "title": "options"}
    options = schema["$defs"]["InitializeOptions"]
    assert options["required"] == ["protocolVersion"]
    assert schema["methods"]["shutdown"]["params"] == {
        "type": "array",
        "minItems": 0,
        "maxItems": 0,
        "items": False,
    }


def test_typescript_declarations_compile() -> None:
    tsc = PROJECT_ROOT / "tests" / "js" / "node_modules" / ".bin" / "tsc"
    if not tsc.exists() or shutil.which("node") is None:
        pytest.skip("TypeScript is not installed: run scripts/test, which installs tests/js's npm packages")
    declarations = Path(generate.GENERATED_DIR / generate.TYPESCRIPT_FILE)
    result = subprocess.run(
        [str(tsc), "--noEmit", "--strict", str(declarations)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
