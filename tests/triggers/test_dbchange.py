"""Database-change triggers on the real records store: post-commit only, filters, and the loop guard."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sidecar.errors import InvalidTriggerError, ObjectNotFoundError
from sidecar.store import BatchMethod, BatchOp, CallerContext, SqliteRecordStore
from sidecar.triggers import TriggerKind, TriggerService, TriggerServiceConfig
from sidecar.triggers.store_source import StoreChangeSource
from tests.triggers.doubles import Call, InProcessFunctions, MemoryHistory, echo

MASTER = CallerContext.master()


@pytest.fixture
async def store() -> AsyncIterator[SqliteRecordStore]:
    opened = await SqliteRecordStore.open(None, ephemeral=True)
    yield opened
    await opened.close()


@pytest.fixture
async def db_service(
    tmp_path: Path, store: SqliteRecordStore, functions: InProcessFunctions, history: MemoryHistory
) -> AsyncIterator[TriggerService]:
    opened = TriggerService.open(
        TriggerServiceConfig(tmp_path, "backend_test01"),
        recorder=history,
        functions=functions,
        changes=StoreChangeSource(store),
    )
    await opened.start()
    yield opened
    await opened.close()


async def on_orders(service: TriggerService, actions: list[str], **extra: Any) -> str:
    created = await service.create_trigger(
        {
            "type": "db-change",
            "target": {"kind": "function", "name": "onOrder"},
            "dbChange": {"collection": "Order", "actions": actions, **extra},
        }
    )
    return str(created["trigger"]["id"])


async def settled(service: TriggerService) -> None:
    assert service.changes is not None
    await service.changes.drain()


async def test_each_committed_change_fires_once_with_the_contract_payload(
    db_service: TriggerService, store: SqliteRecordStore, functions: InProcessFunctions
) -> None:
    trigger_id = await on_orders(db_service, ["create", "update", "delete"])
    created = await store.create("Order", {"total": 5}, MASTER)
    await settled(db_service)
    await store.save("Order", created.object_id, {"total": 6}, MASTER)
    await settled(db_service)
    await store.delete("Order", created.object_id, MASTER)
    await settled(db_service)
    await store.create("Invoice", {"total": 1}, MASTER)
    await settled(db_service)
    assert [call.payload["action"] for call in functions.calls] == ["create", "update", "delete"]
    first = functions.calls[0].payload
    assert first["trigger"] == {
        "type": "db-change",
        "id": trigger_id,
        "firedAt": first["trigger"]["firedAt"],
        "collection": "Order",
        "action": "create",
        "recordId": created.object_id,
    }
    assert first["triggerType"] == "db-change"
    assert first["collection"] == "Order"
    assert first["id"] == created.object_id
    assert functions.calls[2].payload["record"]["total"] == 6  # the row as it was before deletion
    assert {call.trigger.kind for call in functions.calls} == {TriggerKind.DB_CHANGE}
    assert functions.calls[1].trigger.source == "db-change update on Order"


async def test_only_the_chosen_actions_fire(
    db_service: TriggerService, store: SqliteRecordStore, functions: InProcessFunctions
) -> None:
    await on_orders(db_service, ["update"])
    created = await store.create("Order", {"total": 5}, MASTER)
    await store.save("Order", created.object_id, {"total": 7}, MASTER)
    await settled(db_service)
    assert [call.payload["action"] for call in functions.calls] == ["update"]


async def test_a_filter_in_the_query_grammar_selects_records(
    db_service: TriggerService, store: SqliteRecordStore, functions: InProcessFunctions
) -> None:
    await on_orders(db_service, ["create"], filter={"total": {"$gt": 10}})
    for total in (5, 50, 10, 11):
        await store.create("Order", {"total": total}, MASTER)
        await settled(db_service)
    assert [call.payload["record"]["total"] for call in functions.calls] == [50, 11]


async def test_a_filter_that_cannot_compile_is_refused(db_service: TriggerService) -> None:
    with pytest.raises(InvalidTriggerError, match=r"dbChange\.filter"):
        await on_orders(db_service, ["create"], filter={"total": {"$bogus": 1}})


async def test_a_rolled_back_batch_fires_nothing(
    db_service: TriggerService, store: SqliteRecordStore, functions: InProcessFunctions
) -> None:
    await on_orders(db_service, ["create", "update"])
    ops = [
        BatchOp(BatchMethod.CREATE, "Order", {"total": 1}),
        BatchOp(BatchMethod.SAVE, "Order", {"total": 2}, object_id="missing"),
    ]
    with pytest.raises(ObjectNotFoundError):
        await store.batch(ops, MASTER, transaction=True)
    await settled(db_service)
    assert functions.calls == []
    assert (await store.count("Order", {}, MASTER)) == 0


async def test_the_loop_guard_stops_a_function_that_writes_to_its_own_collection(
    db_service: TriggerService, store: SqliteRecordStore, functions: InProcessFunctions
) -> None:
    async def bump(call: Call) -> tuple[int, str]:
        record = call.payload["record"]
        await store.save("Order", record["objectId"], {"touched": record.get("touched", 0) + 1}, MASTER)
        return 200, json.dumps({"ok": True})

    functions.handlers["onOrder"] = bump
    trigger_id = await on_orders(db_service, ["create", "update"])
    created = await store.create("Order", {"total": 1}, MASTER)
    await settled(db_service)
    assert len(functions.calls) == 1
    assert (await store.fetch("Order", created.object_id, MASTER))["touched"] == 1
    listing = db_service.list_triggers()
    assert listing["suppressedCount"] == 1
    assert listing["maxChangeDepth"] == 1
    assert db_service.get_trigger(trigger_id)["status"]["skippedCount"] == 1


async def test_a_disabled_trigger_does_not_fire(
    db_service: TriggerService, store: SqliteRecordStore, functions: InProcessFunctions
) -> None:
    functions.handlers["onOrder"] = echo
    trigger_id = await on_orders(db_service, ["create"])
    await db_service.set_trigger_enabled(trigger_id, False)
    await store.create("Order", {"total": 1}, MASTER)
    await settled(db_service)
    assert functions.calls == []


async def test_on_replicas_sharing_postgresql_each_change_fires_once(tmp_path: Path, pg_server: str) -> None:
    from sidecar.store.postgres.store import PostgresRecordStore
    from tests.postgres import new_schema_url

    url = new_schema_url(pg_server)
    replicas = [await PostgresRecordStore.open(url) for _ in range(2)]
    calls = [InProcessFunctions({"onOrder": echo}) for _ in replicas]
    services = [
        TriggerService.open(
            TriggerServiceConfig(tmp_path / f"r{n}", "backend_test01"),
            recorder=MemoryHistory(),
            functions=calls[n],
            changes=StoreChangeSource(replica),
        )
        for n, replica in enumerate(replicas)
    ]
    try:
        for service in services:
            await service.start()
            await on_orders(service, ["create"])
        made = [await replicas[n % 2].create("Order", {"n": n}, MASTER) for n in range(6)]
        for replica in replicas:  # let the other replica receive every announcement
            await replica.count("Order", {}, MASTER)
        await asyncio.sleep(0.3)
        for service in services:
            await settled(service)
        fired = sorted(call.payload["id"] for functions in calls for call in functions.calls)
        assert fired == sorted(created.object_id for created in made)
    finally:
        for service in services:
            await service.close()
        for replica in replicas:
            await replica.close()
