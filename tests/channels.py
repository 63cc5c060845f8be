"""Calling IPC channels as a session would, without one: the channel tests of every package share it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from ipc_schema.lifecycle import RequestMeta
from sidecar.backends.manager import BackendManager
from sidecar.backends.registry import BackendRegistry
from sidecar.ipc.methods import CallContext, MethodTable

Register = Callable[[MethodTable, BackendManager], None]


class Channels:
    """Validates a call's argument array, runs the handler and dumps its result, as the session does;
    notifications the handler sends (progress) are kept in ``sent``."""

    def __init__(
        self, register: Register, manager: BackendManager, *, progress_token: str | None = None
    ) -> None:
        self.table = MethodTable()
        register(self.table, manager)
        self.progress_token = progress_token
        self.sent: list[tuple[str, Any]] = []

    async def __call__(self, name: str, *args: Any) -> Any:
        bound = self.table.get(name)
        assert bound is not None, name
        meta = RequestMeta(progress_token=self.progress_token)
        ctx = CallContext(msgid=1, method=name, meta=meta, notify=lambda m, p: self.sent.append((m, p)))
        return bound.dump_result(await bound.handler(ctx, bound.parse_params(list(args))))


@asynccontextmanager
async def backend_manager(root: Path) -> AsyncIterator[BackendManager]:
    """A manager over a registry at ``root``, every backend it started stopped afterwards."""
    managed = BackendManager(BackendRegistry(root), lambda _change: None)
    try:
        yield managed
    finally:
        await managed.stop_all()
