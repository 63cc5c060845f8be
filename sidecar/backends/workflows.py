"""The cloud functions of one backend: every ``workflows/<name>.workflow.json``, and their versions.

Each bundle gets its own runtime. A broken file is logged and skipped at start. A hot deploy builds
the new bundle's runtime and checks it (``sidecar.runtime.deploy_check``: a Request node per
function, known node types, connections between existing nodes and ports, scripts that compile)
*before* writing the file, so a bad export changes nothing and the running bundle keeps serving; the
refusal lists every problem with its component and node id. Swaps replace the mapping, so runs
already in flight finish on the runtime they started with. Every
deploy that changes a bundle is kept as a version (``workflow_versions``); rolling back to one
deploys its export again, through the same checks.

Replicas on one PostgreSQL database share their bundles through a :class:`BundleShare`
(``sidecar.store.postgres.bundles``): a deploy, rollback or removal is queued by the sync call and stored by
:meth:`WorkflowSet.share_pending`, which the doors await before answering; the other replicas install what
the database holds when told (:meth:`WorkflowSet.install_shared`), each through the same checks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import structlog

from sidecar.backends.workflow_versions import (
    DEFAULT_KEEP,
    FOLDER,
    WorkflowVersion,
    WorkflowVersions,
    content_hash,
)
from sidecar.errors import InvalidParamsError, RequestFailedError, SidecarError, WorkflowExportError
from sidecar.jsonfile import write_json_atomic

log = structlog.get_logger("sidecar.backends.workflows")

SUFFIX = ".workflow.json"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_. -]{0,127}$")
_PROBLEMS_IN_MESSAGE = 3


class DeployProblem(Protocol):
    """One reason a deploy is refused (``sidecar.runtime.deploy_check.DeployProblem`` fits)."""

    def to_json(self) -> dict[str, Any]: ...

    def describe(self) -> str: ...


class FunctionRuntime(Protocol):
    def has_function(self, name: str) -> bool: ...

    def function_names(self) -> list[str]: ...

    def deploy_problems(self) -> list[DeployProblem]: ...


RuntimeFactory = Callable[[Any], FunctionRuntime]


class BundleShare(Protocol):
    """Where the replicas of one backend keep their bundles (``None`` export: the bundle was removed)."""

    def publish(self, name: str, export: Any, digest: str) -> Awaitable[None]: ...


@dataclass(frozen=True)
class LoadedBundle:
    name: str
    runtime: FunctionRuntime


class WorkflowDeployError(RequestFailedError):
    pass


class DeployRefusedError(WorkflowDeployError):
    """A deploy that would break its functions; ``problems`` name the component and node of each."""

    def __init__(self, problems: list[dict[str, Any]], descriptions: list[str]) -> None:
        shown = "; ".join(descriptions[:_PROBLEMS_IN_MESSAGE])
        more = len(descriptions) - _PROBLEMS_IN_MESSAGE
        count = f"{len(descriptions)} problem" + ("s" if len(descriptions) != 1 else "")
        message = f"deploy refused, {count}: {shown}" + (f"; and {more} more" if more > 0 else "")
        super().__init__(message, data={"problems": problems})
        self.problems = problems


def validate_workflow_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise InvalidParamsError(f"invalid workflow name: {name!r}")
    return name


class WorkflowSet:
    def __init__(
        self, folder: Path, make_runtime: RuntimeFactory, *, keep_versions: int = DEFAULT_KEEP
    ) -> None:
        self.folder = folder
        self._make_runtime = make_runtime
        self._bundles: dict[str, LoadedBundle] = {}
        self._hashes: dict[str, str] = {}  # content hash of each loaded bundle
        self.initialized = False
        self.load_errors: dict[str, str] = {}
        self.versions = WorkflowVersions(folder / FOLDER, keep_versions)
        self.share: BundleShare | None = None
        """Set on a replica of a shared database: every local change is stored there too."""
        self._unshared: list[tuple[str, Any, str]] = []

    def load_all(self) -> int:
        """(Re)load every bundle on disk; broken ones are reported in ``load_errors``."""
        bundles: dict[str, LoadedBundle] = {}
        hashes: dict[str, str] = {}
        errors: dict[str, str] = {}
        for path in sorted(self.folder.glob(f"*{SUFFIX}")) if self.folder.is_dir() else []:
            name = path.name[: -len(SUFFIX)]
            try:
                export = json.loads(path.read_text(encoding="utf-8"))
                bundles[name] = LoadedBundle(name, self._build(export))
                hashes[name] = content_hash(export)
            except (OSError, ValueError, SidecarError) as exc:
                errors[name] = str(exc)
                log.error("workflow_skipped", workflow=name, error=str(exc))
        self._bundles = bundles
        self._hashes = hashes
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

    def _checked(self, export: Any) -> FunctionRuntime:
        """The bundle's runtime, once nothing in the export would break its functions."""
        try:
            runtime = self._build(export)
        except WorkflowExportError as exc:  # the export's shape: one problem, where it was found
            problem = {"nodeId": exc.node, "componentName": exc.component, "problem": exc.message}
            raise DeployRefusedError([problem], [exc.message]) from exc
        problems = runtime.deploy_problems()
        if problems:
            raise DeployRefusedError([p.to_json() for p in problems], [p.describe() for p in problems])
        return runtime

    def deploy(self, name: str, export: Any, *, rollback_of: int | None = None) -> WorkflowVersion:
        """Check ``export`` by building its runtime, then write it, keep it as a version and swap it in.

        Raises ``DeployRefusedError`` (the running bundle stays) when the export would break."""
        name = validate_workflow_name(name)
        version = self._install(name, export, self._checked(export), rollback_of=rollback_of)
        self._queue_share(name, export, version.hash)
        return version

    def _install(
        self, name: str, export: Any, runtime: FunctionRuntime, *, rollback_of: int | None = None
    ) -> WorkflowVersion:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.folder / f"{name}{SUFFIX}", export)
        version = self.versions.record(name, export, runtime.function_names(), rollback_of=rollback_of)
        self._bundles = {**self._bundles, name: LoadedBundle(name, runtime)}
        self._hashes[name] = version.hash
        self.load_errors.pop(name, None)
        log.info(
            "workflow_deployed", workflow=name, functions=runtime.function_names(), version=version.version
        )
        return replace(version, active=True)

    def _queue_share(self, name: str, export: Any, digest: str) -> None:
        if self.share is not None:
            self._unshared.append((name, export, digest))

    async def share_pending(self) -> None:
        """Store the changes made since the last call where the other replicas read them (in order)."""
        while self.share is not None and self._unshared:
            name, export, digest = self._unshared[0]
            await self.share.publish(name, export, digest)
            self._unshared.pop(0)

    def hash_of(self, name: str) -> str | None:
        """The content hash of the bundle ``name`` runs now (None: no such bundle is loaded)."""
        return self._hashes.get(name)

    def names(self) -> list[str]:
        return sorted(self._bundles)

    def export_of(self, name: str) -> Any:
        """The export of bundle ``name`` as written in the folder (None: unreadable or absent)."""
        try:
            return json.loads((self.folder / f"{validate_workflow_name(name)}{SUFFIX}").read_text("utf-8"))
        except (OSError, ValueError):
            return None

    def install_shared(self, name: str, export: Any) -> bool:
        """Install what another replica deployed (``None``: it removed the bundle), unless this replica runs
        that content already. A bundle that fails this replica's checks is logged in ``load_errors`` and the
        running one stays. Returns whether anything changed."""
        name = validate_workflow_name(name)
        if export is None:
            return self._remove(name)
        if self._hashes.get(name) == content_hash(export):
            return False
        try:
            runtime = self._checked(export)
        except SidecarError as exc:
            self.load_errors[name] = exc.message
            log.error("shared_workflow_refused", workflow=name, error=exc.message)
            return False
        self._install(name, export, runtime)
        return True

    def rollback(self, version: int) -> WorkflowVersion:
        """Deploy a kept version's export again (checked like any deploy); raises when it is not kept."""
        kept = self.versions.get(version)
        return self.deploy(kept.workflow, self.versions.export_of(version), rollback_of=version)

    def list_versions(self) -> list[WorkflowVersion]:
        """Kept versions, newest first; ``active`` marks the one each bundle runs now."""
        return self.versions.listed(self._hashes)

    def remove(self, name: str) -> bool:
        name = validate_workflow_name(name)
        removed = self._remove(name)
        self._queue_share(name, None, "")
        return removed

    def _remove(self, name: str) -> bool:
        path = self.folder / f"{name}{SUFFIX}"
        existed = path.exists()
        path.unlink(missing_ok=True)
        self._bundles = {key: bundle for key, bundle in self._bundles.items() if key != name}
        self._hashes.pop(name, None)
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
