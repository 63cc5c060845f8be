"""A real backend on a loopback port, with helpers to sign users up and call it as admin or as a user."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sidecar.backends.backend import Backend, BackendSpec

TOKEN = "admin-token-for-security-tests-0123"
BACKEND_ID = "backend_sec1"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
APP = {"X-Parse-Application-Id": BACKEND_ID}


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[Backend]:
    served = Backend(BackendSpec(data_dir=tmp_path, backend_id=BACKEND_ID, name="Sec", admin_token=TOKEN))
    await served.start()
    yield served
    await served.stop()


@pytest.fixture
async def http(backend: Backend) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}") as session:
        yield session


async def answer(response: aiohttp.ClientResponse) -> tuple[int, Any]:
    return response.status, json.loads(await response.text())


async def sign_up(http: aiohttp.ClientSession, username: str) -> tuple[str, dict[str, str]]:
    """A new user's id and the headers that act as that user."""
    status, body = await answer(
        await http.post("/users", json={"username": username, "password": "pw-123456"}, headers=APP)
    )
    assert status == 201, body
    return body["objectId"], {**APP, "X-Parse-Session-Token": body["sessionToken"]}
