"""``backend:migrate-to-postgres``: the migration over IPC, with ``$/progress``, on a stopped backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from sidecar.backends.manager import BackendManager
from sidecar.ipc.handlers import register_backend_methods, register_migrate_methods
from tests.channels import Channels, backend_manager
from tests.postgres import new_schema_url


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[BackendManager]:
    async with backend_manager(tmp_path / "home") as managed:
        yield managed


async def test_a_stopped_backend_migrates_over_ipc_with_progress_and_counts(
    manager: BackendManager, pg_server: str
) -> None:
    records = Channels(register_backend_methods, manager)
    migrate = Channels(register_migrate_methods, manager, progress_token="m1")
    backend_id = str(manager.create("Shop")["id"])
    await manager.start(backend_id)
    for index in range(3):
        await records("backend:createRecord", backend_id, "Item", {"n": index})
    url = new_schema_url(pg_server)
    with pytest.raises(Exception, match="stop backend"):
        await migrate("backend:migrate-to-postgres", backend_id, {"databaseUrl": url})
    await manager.stop(backend_id)

    done = await migrate("backend:migrate-to-postgres", backend_id, {"databaseUrl": url})

    assert done["verified"] is True
    assert {"table": "Item", "source": 3, "target": 3, "ok": True} in done["tables"]
    assert done["resumed"] is False
    kinds = [params[0]["value"]["kind"] for method, params in migrate.sent if method == "$/progress"]
    assert (kinds[0], kinds[-1]) == ("begin", "end")
    messages = [p[0]["value"].get("message", "") for m, p in migrate.sent if m == "$/progress"]
    stages = {"schema", "records", "relations", "history", "verify"}
    reports = [message for message in messages if message]  # reports are rate limited: at least one
    assert reports
    assert all(message.split()[0] in stages for message in reports)
    connection = await asyncpg.connect(url)
    try:
        stored = await connection.fetch("SELECT doc->>'n' FROM noodl_records WHERE class_name = 'Item'")
    finally:
        await connection.close()
    assert sorted(int(row[0]) for row in stored) == [0, 1, 2]
    with pytest.raises(Exception, match="already migrated"):
        await migrate("backend:migrate-to-postgres", backend_id, {"databaseUrl": url})
