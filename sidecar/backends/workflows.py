"""The cloud functions of one backend: every ``workflows/<name>.workflow.json``.

Each bundle gets its own runtime. A broken file is logged and skipped at start; a hot
deploy builds the new bundle's runtime *before* writing the file, so a bad export
changes nothing; swaps replace the mapping, so runs already in flight finish on the
runtime they started with (noodl-backend-contract.md §4.6).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import structlog

from sidecar.errors import InvalidParamsError, RequestFailedError, SidecarError
from sidecar.jsonfile import write_json_atomic

log = structlog.get_logger("sidecar.backends.workflows")

SUFFIX = ".workflow.json"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_. -]{0,127}$")


class FunctionRuntime(Protocol):
    def has_function(self, name: str) -> bool: ...

    def function_names(self) -> list[str]: ...


RuntimeFactory = Callable[[Any], FunctionRuntime]


@dataclass(frozen=True)
class LoadedBundle:
    name: str
    runtime: FunctionRuntime


class WorkflowDeployError(RequestFailedError):
    pass


def validate_workflow_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise InvalidParamsError(f"invalid workflow name: {name!r}")
    return name


class WorkflowSet:
    def __init__(self, folder: Path, make_runtime: RuntimeFactory) -> None:
        self.folder = folder
        self._make_runtime = make_runtime
        self._bundles: dict[str, LoadedBundle] = {}
        self.initialized = False
        self.load_errors: dict[str, str] = {}

    def load_all(self) -> int:
        """(Re)load every bundle on disk; broken ones are reported in ``load_errors``."""
        bundles: dict[str, LoadedBundle] = {}
        errors: dict[str, str] = {}
        for path in sorted(self.folder.glob(f"*{SUFFIX}")) if self.folder.is_dir() else []:
            name = path.name[: -len(SUFFIX)]
            try:
                bundles[name] = LoadedBundle(name, self._build(json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, SidecarError) as exc:
                errors[name] = str(exc)
                log.error("workflow_skipped", workflow=name, error=str(exc))
        self._bundles = bundles
        self.load_errors = errors
        self.initialized = True
        return len(bundles)

    def _build(self, export: Any) -> FunctionRuntime:
        try:
            return self._make_runtime(export)
        except SidecarError:
            raise
        except (TypeError, KeyError, ValueError) as exc:
            raise WorkflowDeployError(f"invalid workflow export: {exc}") from exc

    def deploy(self, name: str, export: Any) -> None:
        """Validate ``export`` by building its runtime, then write it and swap it in."""
        name = validate_workflow_name(name)
        runtime = self._build(export)
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.folder / f"{name}{SUFFIX}", export)
        self._bundles = {**self._bundles, name: LoadedBundle(name, runtime)}
        self.load_errors.pop(name, None)
        log.info("workflow_deployed", workflow=name, functions=runtime.function_names())

    def remove(self, name: str) -> bool:
        name = validate_workflow_name(name)
        path = self.folder / f"{name}{SUFFIX}"
        existed = path.exists()
        path.unlink(missing_ok=True)
        self._bundles = {key: bundle for key, bundle in self._bundles.items() if key != name}
        return existed

    def find(self, function: str) -> FunctionRuntime | None:
        for bundle in self._bundles.values():
            if bundle.runtime.has_function(function):
                return bundle.runtime
        return None

    def status(self) -> dict[str, Any]:
        functions = [
            {"name": function, "workflow": bundle.name}
            for bundle in self._bundles.values()
            for function in bundle.runtime.function_names()
        ]
        return {"initialized": self.initialized, "workflowCount": len(self._bundles), "functions": functions}
