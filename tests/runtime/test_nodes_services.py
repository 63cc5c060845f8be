"""Nodes that reach outside the graph: Config, REST, Cloud File, Run Tasks, records and users."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from sidecar.backends.records_port import StoreRecordsPort
from sidecar.runtime.http_client import HttpResult
from sidecar.store import CallerContext, QueryOptions, SqliteRecordStore
from tests.runtime.conftest import CONFORMANCE_DIR, load_conformance_export
from tests.runtime.graphs import conn, node, response_node, run_graph

MASTER = CallerContext.master()
SEND = conn("req", "receive", "resp", "send")


class StaticConfig:
    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    async def get_config(self) -> Mapping[str, Any]:
        return self.values


class RecordingHttp:
    """A real ``HttpClient`` that answers from memory and keeps the requests."""

    def __init__(self, result: HttpResult) -> None:
        self.result = result
        self.requests: list[tuple[str, str, dict[str, str], str | None]] = []

    async def request(
        self, method: str, url: str, headers: Mapping[str, str], body: str | None
    ) -> HttpResult:
        self.requests.append((method, url, dict(headers), body))
        return self.result


@pytest.fixture
async def store() -> AsyncIterator[SqliteRecordStore]:
    opened = await SqliteRecordStore.open(None, ephemeral=True)
    yield opened
    await opened.close()


async def test_config_node_reads_the_backends_config() -> None:
    from sidecar.runtime import Runtime, make_request

    values = json.loads((CONFORMANCE_DIR / "exports" / "i_config.config.json").read_text())
    runtime = Runtime.from_export(
        load_conformance_export("exports/i_config.export.json"), config=StaticConfig(values)
    )

    response = await runtime.run("config", make_request({}))

    assert response.body == '{"result":{"greeting":"hi from Parse config"}}'


async def test_rest_node_shapes_the_request_and_reads_the_response_with_scripts() -> None:
    http = RecordingHttp(HttpResult(200, {"temp": 21.5}))
    rest = node(
        "rest",
        "REST2",
        {
            "resource": "https://api.example.test/weather/{city}",
            "method": "POST",
            "requestScript": "Request.parameters.units = 'metric'; Request.content = {city: Inputs.city};",
            "responseScript": "Outputs.temp = Response.content.temp; Outputs.status = Response.status;",
        },
    )
    connections = [
        conn("req", "pm-city", "rest", "in-city"),
        conn("req", "receive", "rest", "fetch"),
        conn("rest", "out-temp", "resp", "pm-temp"),
        conn("rest", "out-status", "resp", "pm-status"),
        conn("rest", "success", "resp", "send"),
    ]

    assert await run_graph([rest, response_node()], connections, {"city": "Oslo"}, http=http) == (
        200,
        '{"result":{"temp":21.5,"status":200}}',
    )
    method, url, headers, body = http.requests[0]
    assert (method, url, body) == (
        "POST",
        "https://api.example.test/weather/Oslo?units=metric",
        '{"city":"Oslo"}',
    )
    assert headers["Content-Type"] == "application/json"


async def test_cloud_file_exposes_url_and_original_name_of_a_records_file() -> None:
    from sidecar.backends.records_port import StoreRecordsPort
    from sidecar.runtime import Runtime, make_request
    from sidecar.store import CallerContext, SqliteRecordStore
    from tests.runtime.graphs import component, export, request_node

    store = await SqliteRecordStore.open(None, ephemeral=True)
    try:
        file = {"__type": "File", "name": "a1b2_report.pdf", "url": "http://files/a1b2_report.pdf"}
        created = await store.create("Doc", {"file": file}, CallerContext.master())
        schema = {"name": "Doc", "schema": {"properties": {"file": {"type": "File"}}}}
        graph = export(
            component(
                "f",
                [
                    request_node(),
                    node("get", "DbModel2", {"collectionName": "Doc"}),
                    node("file", "Cloud File"),
                    node("later", "Workflow Wait", {"duration": 0}),
                    response_node(),
                ],
                [
                    conn("req", "pm-id", "get", "modelId"),
                    conn("req", "receive", "get", "fetch"),
                    conn("get", "prop-file", "file", "file"),
                    conn("file", "name", "resp", "pm-name"),
                    conn("file", "url", "resp", "pm-url"),
                    conn("get", "prop-file", "resp", "pm-file"),
                    conn("get", "fetched", "later", "run"),  # a frame later: the file's outputs are set
                    conn("later", "done", "resp", "send"),
                ],
            ),
            metadata={"dbCollections": [schema]},
        )
        runtime = Runtime.from_export(graph, records=StoreRecordsPort(store))
        response = await runtime.run("f", make_request({"id": created.object_id}))
    finally:
        await store.close()
    # The file passes on as the real runner's CloudFile serialises: name and url.
    assert (response.status_code, response.body) == (
        200,
        '{"result":{"file":{"name":"a1b2_report.pdf","url":"http://files/a1b2_report.pdf"},'
        '"name":"report.pdf","url":"http://files/a1b2_report.pdf"}}',
    )


async def test_cloud_file_takes_no_plain_object_or_string_as_a_file() -> None:
    """The real runner's Cloud File takes only a record's File (its CloudFile): an object or a URL from a
    request leaves its outputs undefined (recorded: the Response has neither key)."""
    for value in (
        {"__type": "File", "name": "a1b2_report.pdf", "url": "http://files/a1b2_report.pdf"},
        {"name": "a1b2_report.pdf", "url": "http://files/a1b2_report.pdf"},
        "http://files/a1b2_report.pdf",
    ):
        nodes = [node("file", "Cloud File"), response_node(), node("later", "Workflow Wait", {"duration": 0})]
        connections = [
            conn("req", "pm-file", "file", "file"),
            conn("file", "name", "resp", "pm-name"),
            conn("file", "url", "resp", "pm-url"),
            conn("req", "receive", "later", "run"),  # a frame later: the file's outputs are set by then
            conn("later", "done", "resp", "send"),
        ]
        assert await run_graph(nodes, connections, {"file": value}) == (200, '{"result":{}}')


async def test_run_tasks_with_stop_on_failure_aborts_and_never_sends_done() -> None:
    data = load_conformance_export("exports/h_runtasks.export.json")
    tasks = next(n for n in data["components"][1]["nodes"] if n["id"] == "tasks")
    tasks["parameters"].update(stopOnFailure=True, maxRunningTasks=1)  # one at a time: 3 never starts
    from sidecar.runtime import Outcome, Runtime, make_request

    response = await Runtime.from_export(data, timeout_seconds=0.2).run(
        "runtasks", make_request({"items": [{"value": 1}, {"value": "x"}, {"value": 3}]})
    )

    assert response.outcome is Outcome.TIMED_OUT


async def test_a_string_arriving_at_an_array_input_is_evaluated_as_javascript() -> None:
    from sidecar.runtime import Runtime, make_request

    runtime = Runtime.from_export(load_conformance_export("exports/h_runtasks.export.json"))
    items = "[1, 2, 3].map((n) => ({ value: n * 10 }))"  # JavaScript, not JSON (spec R10)

    response = await runtime.run("runtasks", make_request({"items": items}))

    assert response.body == '{"result":{"outcome":"","sum":60,"order":[10,20,30]}}'


async def test_query_filter_and_aggregate_records(store: SqliteRecordStore) -> None:
    for n, group in ((1, "a"), (2, "b"), (3, "a"), (4, "a")):
        await store.create("Item", {"n": n, "group": group}, MASTER)
    metadata = {
        "dbCollections": [
            {"name": "Item", "schema": {"properties": {"n": {"type": "Number"}, "group": {"type": "String"}}}}
        ]
    }
    query = node(
        "q",
        "DbCollection2",
        {
            "collectionName": "Item",
            "visualFilter": {
                "combinator": "and",
                "rules": [{"property": "group", "operator": "equal to", "input": "g"}],
            },
            "visualSorting": [{"property": "n", "order": "descending"}],
        },
    )
    local = node(
        "filter",
        "FilterDBModels",
        {
            "collectionName": "Item",
            "visualFilter": {
                "combinator": "and",
                "rules": [{"property": "n", "operator": "less than or equal to", "value": 3}],
            },
        },
    )
    aggregate = node(
        "agg",
        "noodl.cloud.aggregate",
        {
            "collectionName": "Item",
            "aggregates": "total,top",
            "aggprop-total": "n",
            "aggop-total": "sum",
            "aggprop-top": "n",
            "aggop-top": "max",
        },
    )
    nodes = [query, local, aggregate, response_node()]
    connections = [
        conn("req", "pm-group", "q", "qp-g"),
        conn("req", "receive", "q", "storageFetch"),
        conn("q", "items", "filter", "items"),
        conn("filter", "count", "resp", "pm-kept"),
        conn("q", "count", "resp", "pm-count"),
        conn("q", "firstItemId", "resp", "pm-first"),
        conn("q", "fetched", "agg", "storageFetch"),
        conn("agg", "agg-total", "resp", "pm-total"),
        conn("agg", "agg-top", "resp", "pm-top"),
        conn("agg", "fetched", "resp", "send"),
    ]

    status, body = await run_graph(
        nodes, connections, {"group": "a"}, records=StoreRecordsPort(store), metadata=metadata
    )

    result = json.loads(body)["result"]
    assert status == 200
    assert (result["kept"], result["count"], result["total"], result["top"]) == (2, 3, 10, 4)


async def test_create_then_delete_a_record(store: SqliteRecordStore) -> None:
    nodes = [
        node("create", "NewDbModelProperties", {"collectionName": "Note"}),
        node("delete", "DeleteDbModelProperties", {"collectionName": "Note"}),
        response_node(),
    ]
    connections = [
        conn("req", "pm-text", "create", "prop-text"),
        conn("req", "receive", "create", "store"),
        conn("create", "id", "delete", "modelId"),
        conn("create", "created", "delete", "store"),
        conn("delete", "id", "resp", "pm-deleted"),
        conn("delete", "deleted", "resp", "send"),
    ]

    status, body = await run_graph(nodes, connections, {"text": "hi"}, records=StoreRecordsPort(store))

    assert status == 200
    assert (await store.query("Note", QueryOptions(), MASTER)).results == []
    assert json.loads(body)["result"]["deleted"]


async def test_record_node_failure_reaches_the_error_output(store: SqliteRecordStore) -> None:
    nodes = [node("get", "DbModel2", {"collectionName": "Item"}), response_node(status="failure")]
    connections = [
        conn("req", "pm-id", "get", "modelId"),
        conn("get", "error", "resp", "errorMessage"),
        conn("get", "failure", "resp", "send"),
    ]

    status, body = await run_graph(nodes, connections, {"id": "missing"}, records=StoreRecordsPort(store))

    assert status == 400
    assert json.loads(body)["error"]


async def test_filter_records_compares_and_sorts_like_javascript(store: SqliteRecordStore) -> None:
    # Noodl matches locally with JavaScript's == and >, and sorts with its > and <: a filter value
    # typed as text ("4", "3") still compares with numbers, and a record without the field matches
    # no ordered comparison.
    ids = {}
    for label, n in (("a", 9), ("b", 10), ("c", 3), ("d", None)):
        fields: dict[str, Any] = {"label": label} if n is None else {"label": label, "n": n}
        ids[label] = (await store.create("Item", fields, MASTER)).object_id
    by_label_descending = [{"property": "label", "order": "descending"}]
    everything = node("q", "DbCollection2", {"collectionName": "Item", "visualSorting": by_label_descending})

    def local(node_id: str, operator: str, value: str) -> dict[str, Any]:
        rules = [{"property": "n", "operator": operator, "value": value}]
        return node(
            node_id,
            "FilterDBModels",
            {
                "collectionName": "Item",
                "visualFilter": {"combinator": "and", "rules": rules},
                "visualSorting": [{"property": "n", "order": "ascending"}],
            },
        )

    nodes = [everything, local("big", "greater than", "4"), local("three", "equal to", "3"), response_node()]
    nodes.append(node("later", "Workflow Wait", {"duration": 0}))
    connections = [
        conn("req", "receive", "q", "storageFetch"),
        conn("q", "items", "big", "items"),
        conn("q", "items", "three", "items"),
        conn("big", "count", "resp", "pm-big"),
        conn("big", "firstItemId", "resp", "pm-smallest"),
        conn("three", "count", "resp", "pm-three"),
        conn("q", "fetched", "later", "run"),
        conn("later", "done", "resp", "send"),
    ]

    status, body = await run_graph(nodes, connections, {}, records=StoreRecordsPort(store))

    assert (status, json.loads(body)["result"]) == (200, {"big": 2, "smallest": ids["a"], "three": 1})
