"""Records nodes and ``Noodl.Records`` against the real SQLite record store, in process."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import pytest

from sidecar.backends.records_port import StoreRecordsPort
from sidecar.runtime import Runtime, make_request
from sidecar.store import CallerContext, SqliteRecordStore
from tests.runtime.conftest import load_conformance_export
from tests.runtime.graphs import component, conn, export, function_node, node, request_node, response_node

MASTER = CallerContext.master()


@pytest.fixture
async def store() -> AsyncIterator[SqliteRecordStore]:
    opened = await SqliteRecordStore.open(None, ephemeral=True)
    yield opened
    await opened.close()


async def test_g_records_creates_then_queries_with_the_recorded_shape(store: SqliteRecordStore) -> None:
    runtime = Runtime.from_export(
        load_conformance_export("exports/g_records.export.json"), records=StoreRecordsPort(store)
    )

    response = await runtime.run("records", make_request({"name": "refrunner-demo", "n": 7}))

    assert response.status_code == 200
    body = json.loads(response.body)
    object_id = body["result"]["id"]
    pattern = (
        r'\{"result":\{"count":1,"id":"([^"]+)","items":\[\{"name":"refrunner-demo","n":7,'
        r'"createdAt":"[^"]+","updatedAt":"[^"]+","id":"([^"]+)"\}\]\}\}'
    )
    match = re.fullmatch(pattern, response.body)
    assert match is not None, response.body
    assert match.group(1) == match.group(2) == object_id


async def test_g_records_without_a_store_answers_the_failure_response() -> None:
    runtime = Runtime.from_export(load_conformance_export("exports/g_records.export.json"))

    response = await runtime.run("records", make_request({"name": "x", "n": 1}))

    assert (response.status_code, response.body) == (
        400,
        '{"error":"No record store is available to this function"}',
    )


async def test_function_nodes_query_records_through_the_prelude(store: SqliteRecordStore) -> None:
    for n in (3, 1, 2):
        await store.create("Item", {"name": f"item{n}", "n": n}, MASTER)
    script = (
        "const items = await Noodl.Records.query('Item', {n: {greaterThan: 1}}, {sort: ['n']});\n"
        "Outputs.names = items.map(i => i.name);\n"
        "Outputs.count = await Noodl.Records.count('Item');\n"
        "Outputs.Done();\n"
    )
    graph = export(
        component(
            "q",
            [request_node(), function_node(script, ("names", "count")), response_node()],
            [
                conn("req", "receive", "fn", "run"),
                conn("fn", "out-names", "resp", "pm-names"),
                conn("fn", "out-count", "resp", "pm-count"),
                conn("fn", "out-Done", "resp", "send"),
            ],
        )
    )
    runtime = Runtime.from_export(graph, records=StoreRecordsPort(store))

    response = await runtime.run("q", make_request({}))

    assert response.body == '{"result":{"names":["item2","item3"],"count":3}}'


async def test_record_nodes_set_then_fetch_a_record(store: SqliteRecordStore) -> None:
    created = await store.create("Item", {"name": "before"}, MASTER)
    graph = export(
        component(
            "update",
            [
                request_node(),
                node("set", "SetDbModelProperties", {"collectionName": "Item"}),
                node("get", "DbModel2", {"collectionName": "Item"}),
                response_node(),
            ],
            [
                conn("req", "pm-id", "set", "modelId"),
                conn("req", "pm-name", "set", "prop-name"),
                conn("req", "receive", "set", "store"),
                conn("req", "pm-id", "get", "modelId"),
                conn("set", "stored", "get", "fetch"),
                conn("get", "prop-name", "resp", "pm-name"),
                conn("get", "fetched", "resp", "send"),
            ],
        )
    )
    runtime = Runtime.from_export(graph, records=StoreRecordsPort(store))

    response = await runtime.run("update", make_request({"id": created.object_id, "name": "after"}))

    assert response.body == '{"result":{"name":"after"}}'
    assert (await store.fetch("Item", created.object_id, MASTER))["name"] == "after"
