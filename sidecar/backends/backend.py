"""One backend: a data directory served — records, cloud functions and an HTTP port.

Lifecycle::

    STOPPED --start()--> STARTING --bound--> RUNNING --stop()--> STOPPING --> STOPPED
                              └── persistence or bind failed ──> FAILED (error kept for status)

``start`` opens persistence side by side with the history and metrics, loads the workflows (a
broken bundle is skipped), then binds the port; ``stop`` closes in reverse order. What a backend may
never use is made on first use instead (``sidecar.lazy``). A backend whose SQLite file cannot be
opened or written (corrupt, read-only folder, locked) starts in memory instead and says so everywhere
its persistence is shown (``mode: "memory-fallback"`` with the reason) until a recovery action
(``sidecar.backends.recovery``) gives it its file back; nothing it keeps then survives a stop.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from sidecar import preload
from sidecar.errors import RequestFailedError, SidecarError
from sidecar.lazy import Lazy
from sidecar.private_files import private_dir
from sidecar.runtime import egress

log = structlog.get_logger("sidecar.backends")

ENGINE = "sqlite3"


class BackendState(enum.Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FAILED = "failed"


class PersistenceUnavailableError(RequestFailedError):
    code = "PERSISTENCE_ENGINE_UNAVAILABLE"

    def __init__(self, detail: str) -> None:
        super().__init__(f"persistence unavailable: {detail}", data={"code": self.code})


class BackendStartError(RequestFailedError):
    code = "BACKEND_START_FAILED"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, data={"code": self.code})


@dataclass(frozen=True)
class BackendSpec:
    data_dir: Path
    backend_id: str
    name: str
    admin_token: str
    host: str = "127.0.0.1"
    port: int = 0
    ephemeral: bool = False
    project_dir: Path | None = None
    """The editor project this backend was started for (``serve --project-dir``), if any."""
    project_policy: str = "none"
    """What became of the project's ``nodegx.security.json`` (``sidecar.backends.project_dir``)."""
    database_url: str | None = None
    """Records on this PostgreSQL server (``postgres://…``) instead of :attr:`database_path`."""

    @property
    def database_path(self) -> Path:
        return self.data_dir / "data" / "local.db"


@dataclass(frozen=True)
class FailureInfo:
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def failure_from(exc: BaseException) -> FailureInfo:
    code = getattr(exc, "code", None)
    message = exc.message if isinstance(exc, SidecarError) else f"{type(exc).__name__}: {exc}"
    return FailureInfo(code if isinstance(code, str) else BackendStartError.code, message)


class Uptime:
    def __init__(self) -> None:
        self._started = time.monotonic()

    @property
    def ms(self) -> int:
        return int((time.monotonic() - self._started) * 1000)


RECOVERY_ACTIONS = ("check", "start-fresh")
"""What ``backend:recover-persistence`` can do for a backend running on its memory fallback."""


def persistence_json(
    state: BackendState,
    ephemeral: bool,
    failure: FailureInfo | None,
    fallback: FailureInfo | None = None,
    path: Path | None = None,
) -> dict[str, Any]:
    if state is BackendState.FAILED:
        mode = "failed"
    elif state in (BackendState.RUNNING, BackendState.STARTING):
        mode = "ephemeral" if ephemeral else "memory-fallback" if fallback is not None else "persistent"
    else:
        mode = "unknown"
    shown: dict[str, Any] = {
        "mode": mode,
        "engine": ENGINE if mode in ("persistent", "ephemeral", "memory-fallback") else None,
        "persistent": mode == "persistent",
        "ephemeral": mode in ("ephemeral", "memory-fallback"),
        "error": failure.to_json() if failure else None,
    }
    if mode == "memory-fallback" and fallback is not None:
        # Loud on purpose: the editor shows a banner while nothing written is kept.
        shown["reason"] = fallback.to_json()
        shown["path"] = str(path) if path is not None else None
        shown["recovery"] = list(RECOVERY_ACTIONS)
    return shown


async def _all_of(*steps: Awaitable[Any]) -> None:
    """Run ``steps`` concurrently and wait for every one of them; then raise the first failure (in the
    order given), so that nothing is still opening while a failed start closes what was opened."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


class Backend:
    """Composition of one backend's services; the only place that knows all of them."""

    def __init__(self, spec: BackendSpec, bus: Any = None) -> None:
        self.spec = spec
        self.bus = bus
        self.history: Any = None
        self.monitoring: Any = None
        self.triggers: Any = None
        self.security: Any = None
        self.state = BackendState.STOPPED
        self.failure: FailureInfo | None = None
        self.fallback: FailureInfo | None = None
        """Why the backend runs in memory although it has a data directory (None: it does not)."""
        self.port = spec.port
        self.engine = "postgresql" if spec.database_url else ENGINE
        self._uptime = Uptime()
        self._store: Any = None
        self._runner: Any = None
        self._close_streams: Callable[[], None] | None = None
        self.workflows: Any = None
        self._shared_bundles: Any = None  # on PostgreSQL: the bundles every replica serves
        from sidecar.debugging.running import RunningExecutions

        self.running = RunningExecutions()  # runs in progress by execution id, for execution:cancel
        self.python: Lazy[Any] | None = None  # the pool of workers of its Python nodes, made on first use
        self.python_packs: Any = None  # its custom Python node packs (<data dir>/python), python_packs
        self.writable_check: Callable[[str], None] | None = None
        """Set by the manager: raises when the backend's project is open read-only."""
        self.bundle: dict[str, Any] | None = None
        """The deploy bundle installed in the data directory (``sidecar.deploy.install``), if any."""

    @property
    def store(self) -> Any:
        if self._store is None:
            raise RequestFailedError(f"Backend must be running to use its data ({self.spec.backend_id})")
        return self._store

    async def start(self) -> None:
        if self.state in (BackendState.RUNNING, BackendState.STARTING):
            return
        self.state = BackendState.STARTING
        self.failure = None
        self.fallback = None
        await preload.services_loaded()
        from sidecar.credentials import remember_stored_values
        from sidecar.deploy.installed import installed_bundle

        self.bundle = installed_bundle(self.spec.data_dir)
        try:
            # The record store first: when its file cannot be used the backend falls back to memory, and
            # its history and metrics then keep nothing on disk either. Then, independent of one another
            # and each mostly waiting on its own thread (SQLite files, a journal, a key file): the
            # history, its metrics, and the stored credentials' values (hidden in logs and history
            # before any node can use one; in a thread, as an OS keyring may block) open side by side.
            await self._open_persistence()
            await _all_of(
                self._open_history(),
                self._open_monitoring(),
                asyncio.to_thread(remember_stored_values, self.spec.data_dir),
            )
            if self.history.writer is not None:
                self.monitoring.attach(self.history.writer)
            await self._open_security()
            await self._open_python_packs()
            self._load_workflows()
            await self._share_workflows()
            await self._open_triggers()
            await self._bind()
        except BaseException as exc:
            self.failure = failure_from(exc)
            self.state = BackendState.FAILED
            await self._close_everything()
            raise
        self._uptime = Uptime()
        self.state = BackendState.RUNNING
        log.info("backend_started", backend_id=self.spec.backend_id, port=self.port)

    async def stop(self) -> None:
        if self.state in (BackendState.STOPPED, BackendState.FAILED):
            return
        self.state = BackendState.STOPPING
        await self._close_everything()
        self.state = BackendState.STOPPED
        log.info("backend_stopped", backend_id=self.spec.backend_id)

    def require_writable(self, action: str) -> None:
        if self.writable_check is not None:
            self.writable_check(action)

    @property
    def in_memory(self) -> bool:
        """Nothing of this backend is written to its data directory: ephemeral, or on the fallback."""
        return self.spec.ephemeral or self.fallback is not None

    async def _open_persistence(self) -> None:
        from sidecar.store import SqliteRecordStore

        if self.spec.database_url:
            await self._open_postgres(self.spec.database_url)
            return
        if self.spec.ephemeral:
            try:
                self._store = await SqliteRecordStore.open(None, ephemeral=True)
            except Exception as exc:
                raise PersistenceUnavailableError(f"{type(exc).__name__}: {exc}") from exc
            return
        try:
            # Owner-only, also a folder made before modes were enforced (its files are tightened as opened).
            private_dir(self.spec.data_dir)
            self._store = await SqliteRecordStore.open(self.spec.database_path)
        except Exception as exc:  # OSError, sqlite3.DatabaseError and friends: the file is unusable
            detail = exc.message if isinstance(exc, SidecarError) else f"{type(exc).__name__}: {exc}"
            reason = f"persistence unavailable: {detail}"
            self.fallback = FailureInfo(PersistenceUnavailableError.code, reason)
            log.error(
                "persistence_memory_fallback",
                backend_id=self.spec.backend_id,
                path=str(self.spec.database_path),
                reason=detail,
            )
            self._store = await SqliteRecordStore.open(None, ephemeral=True)

    async def _open_postgres(self, url: str) -> None:
        """The records on PostgreSQL (``serve --database-url``). A server that cannot be used fails the
        start rather than falling back to memory: replicas must all serve the same records."""
        from sidecar.store.postgres.store import PostgresRecordStore

        try:
            private_dir(self.spec.data_dir)  # history and metrics stay in the data directory
            self._store = await PostgresRecordStore.open(url)
        except (OSError, SidecarError) as exc:
            raise PersistenceUnavailableError(str(exc)) from exc
        except Exception as exc:  # asyncpg's errors: the server refused or is unreachable
            raise PersistenceUnavailableError(f"{type(exc).__name__}: {exc}") from exc

    @property
    def backend_id(self) -> str:
        return self.spec.backend_id

    async def _open_security(self) -> None:
        """security.json and api-keys.json; an unreadable one refuses the start rather than serve
        without the rules the user wrote."""
        from sidecar.backends.functions import allows_anonymous, find_bundle
        from sidecar.backends.security import SecurityService
        from sidecar.web.settings import is_loopback

        self.security = await SecurityService.open(
            self.spec.data_dir,
            self._store,
            loopback=is_loopback(self.spec.host),
            allows_no_auth=lambda name: allows_anonymous(find_bundle(self, name), name),
        )

    async def _open_history(self) -> None:
        from sidecar.events import EventBus
        from sidecar.history import ExecutionHistory, HistoryConfig

        if self.bus is None:  # served alone (`serve`): the backend keeps its own event bus
            self.bus = EventBus()
        # An ephemeral backend keeps nothing on disk, its history included.
        self.history = await ExecutionHistory.open(
            self.spec.data_dir,
            backend_id=self.spec.backend_id,
            backend_name=self.spec.name,
            bus=self.bus,
            config=HistoryConfig(enabled=not self.in_memory),
            database_url=self.spec.database_url,  # on PostgreSQL, history goes beside the records
        )

    async def _open_monitoring(self) -> None:
        """Metrics follow every batch history commits (``sidecar.monitoring``), once both are open."""
        from sidecar.monitoring import Monitoring

        self.monitoring = await Monitoring.open(
            self.spec.data_dir,
            ephemeral=self.in_memory,
            gauges=self._queue_depths,
            backend_id=self.spec.backend_id,
        )
        # Read at each evaluation: the triggers open after monitoring, and re-arm as they change.
        self.monitoring.schedules = lambda: (
            self.triggers.scheduler.due_times() if self.triggers is not None else {}
        )

    def _queue_depths(self) -> dict[str, float]:
        writer = self.history.writer if self.history is not None else None
        depths: dict[str, float] = {}
        if writer is not None:
            depths["history_backlog_rows"] = writer.backlog_rows
            depths["history_backlog_runs"] = writer.backlog_runs
            depths["history_dropped_rows"] = writer.dropped
        if self._store is not None:
            depths["store_write_queue_depth"] = self._store.write_queue_depth
        return depths

    def _python_pool(self) -> Lazy[Any]:
        """The pool of Python workers: made on first use, and no process starts until one is needed."""
        if self.python is None:
            from sidecar.backends.functions import python_pool

            spec = self.spec
            self.python = Lazy(lambda: python_pool(spec.data_dir, spec.backend_id, self.in_memory))
        return self.python

    async def _open_python_packs(self) -> None:
        """The node packs of ``python/``, found before the workflows load so their deploy checks know the
        packs. A backend without that folder loads neither the runtime nor a worker for packs; a folder
        made later is found by :meth:`packs` (``python:nodes``)."""
        if (self.spec.data_dir / "python").is_dir():
            await self._start_packs()

    async def packs(self) -> Any:
        """The backend's node packs (``sidecar.backends.python_packs.PythonPacks``), refreshed; the first
        call on a backend that had none reloads its workflows over the new node types."""
        if self.python_packs is None:
            await self._start_packs()
            if self.workflows is not None:
                self._load_workflows()
        else:
            await self.python_packs.refresh()
        return self.python_packs

    async def _start_packs(self) -> None:
        from sidecar.backends.python_packs import PythonPacks

        self.python_packs = PythonPacks(self.spec.data_dir / "python", self._python_pool().get())
        await self.python_packs.refresh()
        self.python_packs.start_watching()

    def _load_workflows(self) -> None:
        from sidecar.backends.functions import ai_port, make_workflow_set

        node_types = self.python_packs.node_types if self.python_packs is not None else None
        self.workflows = make_workflow_set(
            self.spec.data_dir, self._store, self._python_pool(), ai_port(self), node_types
        )
        self.workflows.share = self._shared_bundles
        self.workflows.load_all()

    async def _share_workflows(self) -> None:
        """Replicas on one PostgreSQL database serve the same bundles: a deploy on one reaches the others."""
        if not self.spec.database_url:
            return
        from sidecar.store.postgres.bundles import PostgresBundles

        self._shared_bundles = PostgresBundles(self._store)
        await self._shared_bundles.attach(lambda: self.workflows)

    async def _open_triggers(self) -> None:
        """Load triggers.json (an invalid file refuses the start, naming every bad entry) and arm it."""
        from sidecar.backends.trigger_host import TriggerFunctions
        from sidecar.triggers import TriggerService, TriggerServiceConfig
        from sidecar.triggers.clock import clock_from_env
        from sidecar.triggers.store_source import StoreChangeSource

        claims = None
        change_claims = None
        recovery_interval = 30.0
        if self.spec.database_url:  # replicas share the database: each schedule or change fire runs once
            from sidecar.store.postgres.change_claims import PostgresChangeClaims
            from sidecar.store.postgres.fire_claims import PostgresFireClaims, lease_from_env

            claims = PostgresFireClaims(self._store.pool, lease=lease_from_env())
            await claims.prepare()
            change_claims = PostgresChangeClaims(self._store.pool, lease=claims.lease)
            await change_claims.prepare()
            # Look for abandoned fires twice a lease (a dead replica's fire waits at most ~1.5 leases).
            recovery_interval = min(recovery_interval, claims.lease.total_seconds() / 2)
        self.triggers = TriggerService.open(
            TriggerServiceConfig(self.spec.data_dir, self.spec.backend_id),
            recorder=self.history,
            functions=TriggerFunctions(self),
            changes=StoreChangeSource(self._store),
            clock=clock_from_env(),
            claims=claims,
            change_claims=change_claims,
            recovery_interval=recovery_interval,
        )
        if change_claims is not None and self.triggers.changes is not None:
            self._store.claim_changes(change_claims, self.triggers.changes.triggers_for)
        await self.triggers.start()

    async def _bind(self) -> None:
        from aiohttp import web

        from sidecar.backends.functions import FunctionHost
        from sidecar.monitoring.dashboard import dashboard_routes
        from sidecar.monitoring.routes import monitoring_routes
        from sidecar.web import WebSettings, admin_page, build_app
        from sidecar.web.routes_api import ApiRoutes
        from sidecar.web.routes_backend import backend_routes
        from sidecar.web.routes_credentials import credential_routes
        from sidecar.web.routes_editor import editor_routes
        from sidecar.web.routes_security import security_routes
        from sidecar.web.server import app_runner

        settings = WebSettings(
            app_id=self.spec.backend_id,
            master_key=self.spec.admin_token,
            host=self.spec.host,
            port=self.spec.port,
            files_dir=self.spec.data_dir / "files",
            config_path=self.spec.data_dir / "config-params.json",
        )
        settings.check_bind()
        admin = backend_routes(self, settings)
        monitoring = monitoring_routes(lambda: self.monitoring, settings)
        dashboard = dashboard_routes(self, settings)

        def close_streams() -> None:
            admin.close()
            monitoring.close()
            dashboard.close()

        self._close_streams = close_streams
        api = ApiRoutes(self._store, settings, self.security)
        guarded = security_routes(self.security, settings)
        editor = editor_routes(self._editor_services(), settings)
        credentials = credential_routes(self.spec.data_dir, settings)
        routes = [
            *self.triggers.webhooks.routes(),
            *admin.routes,
            *monitoring.routes,
            *dashboard.routes,
            *guarded,
            *editor,
            *credentials,
            *admin_page.ROUTES,
            *api.routes(),
        ]
        app = build_app(
            self._store,
            settings,
            FunctionHost(self),
            health=self.health,
            routes=routes,
            api_keys=self.security,
        )
        if self.monitoring is not None:
            app.on_response_prepare.append(self.monitoring.exporter.on_response_prepare)
        runner = app_runner(app)
        await runner.setup()
        site = web.TCPSite(runner, self.spec.host, self.spec.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise BackendStartError(
                f"cannot listen on {self.spec.host}:{self.spec.port}: {exc.strerror}"
            ) from exc
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        egress.listening(self.port)  # the backend's own functions may not call it

    def _editor_services(self) -> Any:
        """The services behind the editor's settings routes (``sidecar.web.routes_editor``)."""
        from sidecar import __version__
        from sidecar.backends.auth_settings import AuthSettings
        from sidecar.backends.email_settings import EmailSettings
        from sidecar.backends.function_rules import FunctionRules
        from sidecar.backends.functions import allows_anonymous, find_bundle
        from sidecar.backends.search_settings import SearchSettings
        from sidecar.backends.secret_names import FunctionSecrets
        from sidecar.backends.workflow_defs import WorkflowDefinitions
        from sidecar.web.routes_editor import EditorServices

        data_dir = self.spec.data_dir
        deployed = lambda: [row["name"] for row in self.workflows.status()["functions"]]  # noqa: E731
        no_auth = lambda name: allows_anonymous(find_bundle(self, name), name)  # noqa: E731
        return EditorServices(
            definitions=WorkflowDefinitions(data_dir),
            rules=FunctionRules(self.security, deployed, no_auth),
            secrets=FunctionSecrets(data_dir),
            search=SearchSettings(data_dir, self._store),
            auth=AuthSettings(data_dir, lambda: f"http://127.0.0.1:{self.port}"),
            email=EmailSettings(data_dir),
            triggers=self.triggers,
            whoami=self._whoami(__version__),
        )

    def _whoami(self, version: str) -> dict[str, Any]:
        return {
            "service": "nodegx-backend",
            "implementation": "noodl-sidecar",
            "version": version,
            "backendId": self.spec.backend_id,
            "backendName": self.spec.name,
            "adminAccount": False,
            "projectDir": str(self.spec.project_dir) if self.spec.project_dir is not None else None,
            "projectPolicy": self.spec.project_policy,
            "ephemeral": self.spec.ephemeral,
        }

    async def _close_everything(self) -> None:
        if self._close_streams is not None:
            self._close_streams()
            self._close_streams = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            egress.stopped_listening(self.port)
        if self.triggers is not None:
            await self.triggers.close()
            self.triggers = None
        if self.python_packs is not None:
            await self.python_packs.close()
            self.python_packs = None
        if self.python is not None:  # after the door and triggers: no run starts a call any more
            pool = self.python.peek()
            self.python = None
            if pool is not None:
                await pool.close()
        if self.history is not None:
            await self.history.close()
            self.history = None
        if self.monitoring is not None:  # after history: its last batches reach the metrics first
            await self.monitoring.close()
            self.monitoring = None
        self.security = None
        if self._store is not None:
            await self._store.close()
            self._store = None
        self._shared_bundles = None

    def _security_health(self) -> dict[str, Any]:
        dev_open = bool(self.security is not None and self.security.policy.dev_open)
        return {"devOpen": dev_open, "enforced": not dev_open, "migratedThisStart": False}

    def persistence(self) -> dict[str, Any]:
        return persistence_json(
            self.state, self.spec.ephemeral, self.failure, self.fallback, self.spec.database_path
        )

    def health(self) -> dict[str, Any]:
        workflows = (
            self.workflows.status()
            if self.workflows is not None
            else {"initialized": False, "workflowCount": 0, "functions": []}
        )
        return {
            "ok": self.state is BackendState.RUNNING,
            "service": "nodegx-backend",
            "backendId": self.spec.backend_id,
            "backendName": self.spec.name,
            "uptimeMs": self._uptime.ms if self.state is BackendState.RUNNING else 0,
            "persistence": self.persistence(),
            "security": self._security_health(),
            "workflows": workflows,
            # Beyond the contract: whether runs are being recorded, the writer's backlog, and the runs
            # recorded summary-only or restored after a crash (``ExecutionHistory.recording``).
            "history": self.history.recording if self.history is not None else {"enabled": False},
            # Beyond the contract: the deployed bundle's hash, so a deploy can tell its release answers.
            "bundle": self.bundle,
        }
