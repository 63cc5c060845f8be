"""The backend manager: many backends in one process, started and stopped independently.

It is what the editor's ``backend:*`` channels reach: the registry for metadata, a
``Backend`` per running data directory, and collection subscriptions that turn the
store's post-commit changes into ``backend:collectionChanged`` pushes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from sidecar.backends.backend import Backend, BackendSpec, BackendState, persistence_json
from sidecar.backends.read_only import ReadOnlyProjects
from sidecar.backends.registry import (
    BackendConfig,
    BackendRegistry,
    ensure_admin_token,
    validate_project_id,
)
from sidecar.errors import RequestFailedError

log = structlog.get_logger("sidecar.backends")

CollectionChanged = Callable[[dict[str, Any]], None]


class BackendNotRunningError(RequestFailedError):
    def __init__(self, action: str) -> None:
        super().__init__(f"Backend must be running to {action}")


@dataclass(frozen=True)
class _SubscriptionKey:
    backend_id: str
    collection: str


class BackendManager:
    def __init__(self, registry: BackendRegistry, on_collection_changed: CollectionChanged) -> None:
        self.registry = registry
        self._bus: Any = None
        self._running: dict[str, Backend] = {}
        self._failed: dict[str, Backend] = {}
        self._subscriptions: dict[_SubscriptionKey, Any] = {}
        self._on_collection_changed = on_collection_changed
        self.projects = ReadOnlyProjects(registry.root.parent / "projects.json")

    @property
    def bus(self) -> Any:
        """Every backend's execution events, for the editor's live views (made on first use)."""
        if self._bus is None:
            from sidecar.events import EventBus

            self._bus = EventBus()
        return self._bus

    # ---- registry --------------------------------------------------------------------

    def list_backends(self) -> list[dict[str, Any]]:
        return [config.to_json() for config in self.registry.list()]

    def get(self, backend_id: str) -> dict[str, Any] | None:
        config = self.registry.get(backend_id)
        return config.to_json() if config else None

    def create(self, name: str) -> dict[str, Any]:
        return self.registry.create(name).to_json()

    async def delete(self, backend_id: str) -> dict[str, Any]:
        self.registry.require(backend_id)
        await self.stop(backend_id)
        self._failed.pop(backend_id, None)
        self.registry.delete(backend_id)
        return {"deleted": True, "id": backend_id}

    # ---- projects ------------------------------------------------------------------------

    def link_project(self, backend_id: str, project_id: str) -> dict[str, Any]:
        """A project uses one backend: linking it here unlinks it from any other (idempotent)."""
        project = validate_project_id(project_id)
        config = self.registry.require(backend_id)
        for other in self.registry.list():
            if other.id != backend_id and project in other.project_ids:
                self.registry.set_project_ids(other.id, [p for p in other.project_ids if p != project])
        if project in config.project_ids:
            return config.to_json()
        linked = self.registry.set_project_ids(backend_id, [*config.project_ids, project])
        log.info("project_linked", backend_id=backend_id, project_id=project)
        return linked.to_json()

    def unlink_project(self, backend_id: str, project_id: str) -> dict[str, Any]:
        project = validate_project_id(project_id)
        config = self.registry.require(backend_id)
        if project not in config.project_ids:
            return config.to_json()
        kept = [p for p in config.project_ids if p != project]
        log.info("project_unlinked", backend_id=backend_id, project_id=project)
        return self.registry.set_project_ids(backend_id, kept).to_json()

    def require_writable(self, backend_id: str, action: str) -> None:
        """PROJECT_READ_ONLY when the backend is linked to a project recorded read-only."""
        self.projects.require_writable(self.registry.require(backend_id).project_ids, action)

    def for_project(self, project_id: str) -> dict[str, Any] | None:
        """The backend a project is linked to, or None."""
        project = validate_project_id(project_id)
        linked = next((c for c in self.registry.list() if project in c.project_ids), None)
        return linked.to_json() if linked is not None else None

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self, backend_id: str, *, ephemeral: bool = False) -> dict[str, Any]:
        config = self.registry.require(backend_id)
        if backend_id in self._running:
            return self.status(backend_id)
        backend = Backend(self._spec(config, ephemeral), self.bus)
        backend.writable_check = lambda action: self.require_writable(backend_id, action)
        try:
            await backend.start()
        except Exception:
            self._failed[backend_id] = backend
            raise
        self._failed.pop(backend_id, None)
        self._running[backend_id] = backend
        return self.status(backend_id)

    async def stop(self, backend_id: str) -> dict[str, Any]:
        self.registry.require(backend_id)
        for key in [key for key in self._subscriptions if key.backend_id == backend_id]:
            self._subscriptions.pop(key).close()
        backend = self._running.pop(backend_id, None)
        if backend is not None:
            await backend.stop()
        return {"running": False}

    async def stop_all(self) -> None:
        for backend_id in list(self._running):
            try:
                await self.stop(backend_id)
            except Exception:  # one backend failing to stop must not keep the others running
                log.exception("backend_stop_failed", backend_id=backend_id)

    def status(self, backend_id: str) -> dict[str, Any]:
        self.registry.require(backend_id)
        backend = self._running.get(backend_id)
        if backend is not None and backend.state is BackendState.RUNNING:
            health = backend.health()
            return {
                "running": True,
                "port": backend.port,
                "endpoint": f"http://127.0.0.1:{backend.port}",
                "pid": os.getpid(),
                "persistence": health["persistence"],
                "workflows": health["workflows"],
            }
        failed = self._failed.get(backend_id)
        if failed is not None:
            return {"running": False, "persistence": persistence_json(failed.state, False, failed.failure)}
        return {"running": False, "persistence": persistence_json(BackendState.STOPPED, False, None)}

    async def recover_persistence(self, backend_id: str, action: str) -> dict[str, Any]:
        """``check`` the database file of a backend, or ``start-fresh`` one on its memory fallback
        (``sidecar.backends.recovery``); the answer carries the status after the action."""
        import asyncio

        from sidecar.backends.recovery import RecoveryRefusedError, check_database, move_aside

        backend = self.running(backend_id, "recover its persistence")
        path = backend.spec.database_path
        if action == "check":
            report = await asyncio.to_thread(check_database, path)
            status = self.status(backend_id)
            return {"action": action, "check": report, "movedTo": None, "status": status}
        if backend.spec.ephemeral or backend.fallback is None:
            raise RecoveryRefusedError("the backend is not on its memory fallback: nothing to recover")
        moved = move_aside(path)
        await self.stop(backend_id)
        await self.start(backend_id)
        log.warning("persistence_started_fresh", backend_id=backend_id, moved_to=str(moved))
        return {
            "action": action,
            "check": None,
            "movedTo": str(moved) if moved is not None else None,
            "status": self.status(backend_id),
        }

    def running_backends(self) -> list[Backend]:
        return [b for b in self._running.values() if b.state is BackendState.RUNNING]

    def running(self, backend_id: str, action: str) -> Backend:
        """The running backend, or the contract's "Backend must be running to <action>"."""
        self.registry.require(backend_id)
        backend = self._running.get(backend_id)
        if backend is None or backend.state is not BackendState.RUNNING:
            raise BackendNotRunningError(action)
        return backend

    # ---- collection pushes -----------------------------------------------------------

    def subscribe_collection(self, backend_id: str, collection: str) -> None:
        backend = self.running(backend_id, "subscribe to a collection")
        key = _SubscriptionKey(backend_id, collection)
        if key in self._subscriptions:
            return

        def forward(event: Any) -> None:
            if event.class_name == collection:
                self._on_collection_changed(
                    {
                        "backendId": backend_id,
                        "collection": collection,
                        "event": "change",
                        "data": event.to_wire(),
                    }
                )

        self._subscriptions[key] = backend.store.subscribe(forward)

    def unsubscribe_collection(self, backend_id: str, collection: str) -> None:
        subscription = self._subscriptions.pop(_SubscriptionKey(backend_id, collection), None)
        if subscription is not None:
            subscription.close()

    def _spec(self, config: BackendConfig, ephemeral: bool) -> BackendSpec:
        data_dir = self.registry.data_dir(config.id)
        return BackendSpec(
            data_dir=data_dir,
            backend_id=config.id,
            name=config.name,
            admin_token=ensure_admin_token(data_dir),
            port=config.port,
            ephemeral=ephemeral,
        )
