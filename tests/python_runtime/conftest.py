"""A pool per test, small limits, closed (its workers reaped) at the end."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sidecar.python_runtime import PoolLimits, PythonPool

PLANTED_NAME = "NOODL_ADMIN_TOKEN"
PLANTED_SECRET = "planted-secret-7f3a"


@pytest.fixture
async def pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PythonPool]:
    # A secret in the sidecar's environment before any worker starts: none may see it.
    monkeypatch.setenv(PLANTED_NAME, PLANTED_SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", PLANTED_SECRET)
    limits = PoolLimits(cpu_seconds=1, memory_bytes=256 * 1024 * 1024, wall_seconds=20)
    made = PythonPool(tmp_path / "scratch", size=2, limits=limits)
    try:
        yield made
    finally:
        await made.close()
    assert os.environ[PLANTED_NAME] == PLANTED_SECRET
