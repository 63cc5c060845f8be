"""A running (persistent) backend with the test flow, and the debugging channels over the method table."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest

from sidecar.backends.backend import Backend, BackendSpec
from sidecar.backends.manager import BackendManager
from sidecar.ipc.handlers import register_debugging_methods
from tests.channels import Channels
from tests.debugging.graphs import FLOW, RETRY_FLOW
from tests.postgres import database_url

TOKEN = "admin-token-for-debug-tests-0123"
DEBUG_TIMEOUT_MS = 1000  # the timeout of ``g``: a paused run outlives it


class OneBackend:
    """The manager as the channels see it (``running_backends``), over one backend on a free port."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def running_backends(self) -> list[Backend]:
        return [self.backend]

    def running(self, backend_id: str, _action: str) -> Backend:
        assert backend_id == self.backend.backend_id
        return self.backend


@pytest.fixture
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """A persistent backend (an ephemeral one records no history) with the test flow deployed as ``f``.
    On SQLite, or on the store a module names with ``parametrize("backend", BACKENDS, indirect=True)``
    (``tests.postgres``: records and history in a PostgreSQL schema of its own)."""
    url = database_url(request, getattr(request, "param", "sqlite"))
    served = Backend(
        BackendSpec(
            data_dir=tmp_path, backend_id="backend_debug", name="Debug", admin_token=TOKEN, database_url=url
        )
    )
    await served.start()
    served.workflows.deploy("f", FLOW)
    served.workflows.deploy("g", RETRY_FLOW)
    # A run that never answers (a thrown script) ends at this limit rather than after 30 s.
    await served.security.set_permissions(
        {"functions": {"f": {"timeoutMs": 1500}, "g": {"timeoutMs": DEBUG_TIMEOUT_MS}}}
    )
    yield served
    await served.stop()


@pytest.fixture
def channels(backend: Backend) -> Channels:
    return Channels(register_debugging_methods, cast(BackendManager, OneBackend(backend)))


async def call_flow(backend: Backend, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    """Run ``f`` as a webhook call would; answers ``(FunctionResponse, executionId)``."""
    from sidecar.backends import functions

    return await functions.invoke_recorded(
        backend, "f", json.dumps(body), {"content-type": "application/json", **(headers or {})}
    )
