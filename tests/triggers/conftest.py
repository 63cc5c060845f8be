"""A trigger service over a temporary data dir, with in-process functions and in-memory history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from sidecar.triggers import TriggerService, TriggerServiceConfig
from tests.triggers.doubles import InProcessFunctions, MemoryHistory, echo

BACKEND_ID = "backend_test01"


@pytest.fixture
def functions() -> InProcessFunctions:
    return InProcessFunctions({"onOrder": echo})


@pytest.fixture
def history() -> MemoryHistory:
    return MemoryHistory()


@pytest.fixture
async def service(
    tmp_path: Path, functions: InProcessFunctions, history: MemoryHistory
) -> AsyncIterator[TriggerService]:
    opened = TriggerService.open(
        TriggerServiceConfig(tmp_path, BACKEND_ID), recorder=history, functions=functions
    )
    await opened.start()
    yield opened
    await opened.close()


@pytest.fixture
async def client(service: TriggerService) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = web.Application()
    app.add_routes(service.webhooks.routes())
    async with TestClient(TestServer(app)) as opened:
        yield opened
