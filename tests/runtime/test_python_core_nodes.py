"""Core Python nodes (JSON, list transform, template, date, HTTP) and ``noodl.records`` in the worker."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ipc_schema.runtime import NodeType
from sidecar.backends.records_port import StoreRecordsPort
from sidecar.python_runtime import PoolLimits, PythonPool
from sidecar.runtime.http_client import HttpResult
from sidecar.runtime.library import node_library
from sidecar.store import CallerContext, QueryOptions, SqliteRecordStore
from tests.runtime.graphs import conn, node, response_node, run_graph
from tests.runtime.test_nodes_services import RecordingHttp

MASTER = CallerContext.master()


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[PythonPool]:
    made = PythonPool(tmp_path / "scratch", size=2, limits=PoolLimits(cpu_seconds=2, wall_seconds=20))
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
async def store() -> AsyncIterator[SqliteRecordStore]:
    opened = await SqliteRecordStore.open(None, ephemeral=True)
    yield opened
    await opened.close()


def answer(node_id: str, output: str, done: str = "success") -> list[dict[str, str]]:
    """Connections sending ``node_id``'s ``output`` as the response's ``result`` on its ``done`` signal."""
    return [conn(node_id, output, "resp", "pm-result"), conn(node_id, done, "resp", "send")]


async def run_one(graph_node: dict[str, Any], inputs: dict[str, str], body: Any, **options: Any) -> Any:
    connections = [conn("req", f"pm-{name}", graph_node["id"], port) for name, port in inputs.items()]
    connections += options.pop("connections", None) or answer(
        graph_node["id"], options.pop("output", "result")
    )
    options.setdefault("timeout_seconds", 20.0)
    status, text = await run_graph([graph_node, response_node()], connections, body, **options)
    return status, json.loads(text).get("result")  # the Response's parameters


async def test_json_parse_and_stringify_round_trip() -> None:
    parse = node("p", "PythonJsonParse")
    assert await run_one(parse, {"text": "text"}, {"text": '{"a": [1, 2.5, null]}'}, output="value") == (
        200,
        {"result": {"a": [1, 2.5, None]}},
    )
    stringify = node("s", "PythonJsonStringify", {"sortKeys": True})
    assert await run_one(stringify, {"v": "value"}, {"v": {"b": 1, "a": "é"}}, output="text") == (
        200,
        {"result": '{"a": "é", "b": 1}'},
    )


async def test_json_parse_of_bad_text_fires_failure_with_the_reason() -> None:
    parse = node("p", "PythonJsonParse")
    connections = [conn("p", "error", "resp", "pm-result"), conn("p", "failure", "resp", "send")]

    status, body = await run_one(parse, {"text": "text"}, {"text": "{nope"}, connections=connections)

    assert status == 200
    assert body["result"].startswith("not JSON: Expecting property name")


@pytest.mark.parametrize(
    ("operation", "expression", "initial", "expected"),
    [
        ("map", "lambda item: item['price'] * 2", None, [2, 20, 6]),
        ("filter", "lambda item: item['price'] > 2", None, [{"price": 10}, {"price": 3}]),
        ("reduce", "lambda total, item: total + item['price']", 100, 114),
    ],
)
async def test_list_transform_with_a_python_lambda_runs_in_the_worker(
    pool: PythonPool, operation: str, expression: str, initial: Any, expected: Any
) -> None:
    parameters: dict[str, Any] = {"operation": operation, "expression": expression}
    if initial is not None:
        parameters["initial"] = initial
    transform = node("t", "PythonListTransform", parameters)
    items = [{"price": 1}, {"price": 10}, {"price": 3}]

    assert await run_one(transform, {"items": "items"}, {"items": items}, python=pool) == (
        200,
        {"result": expected},
    )
    assert pool.started == 1  # the lambda ran in a worker, not in the sidecar


@pytest.mark.parametrize(
    ("operation", "expression", "initial", "expected"),
    [
        ("map", "price", None, [1, 10, 3]),
        ("filter", "price > `2`", None, [{"price": 10}, {"price": 3}]),
        ("reduce", "sum([acc, item.price])", 0, 14),
    ],
)
async def test_list_transform_with_jmespath_runs_without_a_worker(
    pool: PythonPool, operation: str, expression: str, initial: Any, expected: Any
) -> None:
    parameters: dict[str, Any] = {"operation": operation, "expression": expression, "language": "jmespath"}
    if initial is not None:
        parameters["initial"] = initial
    transform = node("t", "PythonListTransform", parameters)
    items = [{"price": 1}, {"price": 10}, {"price": 3}]

    assert await run_one(transform, {"items": "items"}, {"items": items}, python=pool) == (
        200,
        {"result": expected},
    )
    assert pool.started == 0


async def test_a_failing_lambda_fires_failure_with_its_traceback(pool: PythonPool) -> None:
    transform = node("t", "PythonListTransform", {"expression": "lambda item: item['missing']"})
    connections = [conn("t", "error", "resp", "pm-result"), conn("t", "failure", "resp", "send")]

    status, body = await run_one(
        transform, {"items": "items"}, {"items": [{}]}, python=pool, connections=connections
    )

    assert status == 200
    assert body["result"].endswith("KeyError: 'missing'")


async def test_a_template_renders_its_variables_in_the_sandbox(pool: PythonPool) -> None:
    template = node(
        "tpl",
        "PythonTemplate",
        {
            "expression": (
                "Hello {{ name }}: {% for i in items %}{{ i | upper }} {% endfor %}= {{ total | round(1) }}"
            )
        },
    )
    body = {"name": "Ada", "items": ["a", "b"], "total": 2.345}

    status, answered = await run_one(
        template,
        {"name": "name", "items": "items", "total": "total"},
        body,
        python=pool,
        connections=answer("tpl", "text", "done"),
    )

    assert (status, answered) == (200, {"result": "Hello Ada: A B = 2.3"})


async def test_a_template_cannot_reach_python_internals(pool: PythonPool) -> None:
    template = node("tpl", "PythonTemplate", {"expression": "{{ name.__class__.__mro__ }}"})
    connections = [*answer("tpl", "text", "done")]

    status, _ = await run_one(
        template, {"name": "name"}, {"name": "x"}, python=pool, connections=connections, timeout_seconds=2.0
    )

    assert status == 504  # the sandbox refused the attribute: the node failed, nothing answered


async def test_date_parses_iso_and_formats_in_a_time_zone() -> None:
    date = node("d", "PythonDate", {"format": "%Y-%m-%d %H:%M %Z", "timeZone": "Europe/Oslo"})
    connections = [
        conn("d", "text", "resp", "pm-text"),
        conn("d", "iso", "resp", "pm-iso"),
        conn("d", "timestamp", "resp", "pm-ts"),
        conn("d", "success", "resp", "send"),
    ]

    status, body = await run_one(
        date, {"when": "date"}, {"when": "2024-07-01T10:30:00Z"}, connections=connections
    )

    assert (status, body) == (
        200,
        {"text": "2024-07-01 12:30 CEST", "iso": "2024-07-01T10:30:00.000Z", "ts": 1719829800000},
    )


async def test_date_reads_a_strptime_format_in_the_given_zone() -> None:
    date = node("d", "PythonDate", {"parseFormat": "%d/%m/%Y %H:%M", "timeZone": "America/New_York"})

    status, body = await run_one(date, {"when": "date"}, {"when": "02/01/2024 09:00"}, output="iso")

    assert (status, body) == (200, {"result": "2024-01-02T14:00:00.000Z"})


async def test_an_unreadable_date_fires_failure() -> None:
    date = node("d", "PythonDate")
    connections = [conn("d", "error", "resp", "pm-result"), conn("d", "failure", "resp", "send")]

    assert await run_one(date, {"when": "date"}, {"when": "not a date"}, connections=connections) == (
        200,
        {"result": "Invalid isoformat string: 'not a date'"},
    )


async def test_http_request_sends_json_and_query_and_reads_the_answer() -> None:
    http = RecordingHttp(HttpResult(201, {"id": 7}))
    request = node("h", "PythonHttpRequest", {"url": "https://api.example.test/items", "method": "POST"})
    connections = [
        conn("req", "pm-item", "h", "body"),
        conn("req", "pm-q", "h", "query"),
        conn("req", "receive", "h", "send"),
        conn("h", "status", "resp", "pm-status"),
        conn("h", "body", "resp", "pm-body"),
        conn("h", "success", "resp", "send"),
    ]

    status, text = await run_graph(
        [request, response_node()], connections, {"item": {"name": "x"}, "q": {"tag": "a b"}}, http=http
    )

    assert (status, json.loads(text)) == (200, {"result": {"status": 201, "body": {"id": 7}}})
    assert http.requests == [
        (
            "POST",
            "https://api.example.test/items?tag=a+b",
            {"Content-Type": "application/json"},
            '{"name": "x"}',
        )
    ]


async def test_http_request_reaches_a_real_server(unused_tcp_port: int) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"hello": request.query.get("who")})

    app = web.Application()
    app.router.add_get("/hello", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", unused_tcp_port)
    await site.start()
    try:
        request = node("h", "PythonHttpRequest", {"url": f"http://127.0.0.1:{unused_tcp_port}/hello"})
        connections = [
            conn("req", "pm-q", "h", "query"),
            conn("req", "receive", "h", "send"),
            *answer("h", "body"),
        ]
        status, text = await run_graph(
            [request, response_node()], connections, {"q": {"who": "py"}}, timeout_seconds=10.0
        )
    finally:
        await runner.cleanup()

    assert (status, json.loads(text)) == (200, {"result": {"result": {"hello": "py"}}})


def test_the_node_library_lists_the_core_python_nodes_with_ports_and_docs() -> None:
    library = {entry["name"]: entry for entry in node_library()}
    expected = {
        "PythonJsonParse": {"text", "value", "failure"},
        "PythonJsonStringify": {"value", "indent", "text"},
        "PythonListTransform": {"items", "operation", "language", "expression", "result"},
        "PythonTemplate": {"expression", "text", "done"},
        "PythonDate": {"date", "format", "timeZone", "iso", "timestamp"},
        "PythonHttpRequest": {"url", "method", "send", "status", "body"},
    }
    for name, ports in expected.items():
        entry = library[name]
        assert entry["category"] == "Python"
        assert entry["docs"]
        assert {port["name"] for port in entry["ports"]} >= ports
        NodeType.model_validate(entry)


# ---- noodl.records ---------------------------------------------------------------------------------------
def python_function(script: str) -> dict[str, Any]:
    ports = [
        {"name": "out-result", "plug": "output", "type": "*"},
        {"name": "out-done", "plug": "output", "type": "signal"},
    ]
    return node("fn", "PythonFunction", {"script": script}, ports=ports)


async def run_records_script(
    script: str, body: Any, store: SqliteRecordStore, pool: PythonPool
) -> tuple[int, Any]:
    connections = [
        conn("req", "pm-input", "fn", "in-input"),
        conn("req", "receive", "fn", "run"),
        *answer("fn", "out-result", "out-done"),
    ]
    status, text = await run_graph(
        [python_function(script), response_node()],
        connections,
        body,
        records=StoreRecordsPort(store),
        python=pool,
        timeout_seconds=20.0,
    )
    return status, json.loads(text).get("result")


async def test_python_code_creates_queries_saves_and_deletes_records(
    store: SqliteRecordStore, pool: PythonPool
) -> None:
    script = (
        "import noodl\n"
        "made = noodl.records.create('Item', {'name': inputs['input'], 'n': 1})\n"
        "noodl.records.create('Item', {'name': 'other', 'n': 5})\n"
        "noodl.records.save(made['id'], {'n': 2}, collection='Item')\n"
        "found = noodl.records.query('Item', {'n': {'$lt': 3}}, sort='name')\n"
        "counted = noodl.records.query('Item', {}, count=True, limit=0)\n"
        "noodl.records.delete(made, collection='Item')\n"
        "left = noodl.records.query('Item', {})\n"
        "outputs['result'] = {\n"
        "    'found': [(r['name'], r['n'], r['id'] == made['id']) for r in found],\n"
        "    'count': counted['count'],\n"
        "    'left': [r['name'] for r in left],\n"
        "}\n"
        "send_signal('done')\n"
    )

    status, body = await run_records_script(script, {"input": "mine"}, store, pool)

    assert (status, body) == (
        200,
        {"result": {"found": [["mine", 2, True]], "count": 2, "left": ["other"]}},
    )
    remaining = await store.query("Item", QueryOptions(where={}), MASTER)
    assert [row["name"] for row in remaining.results] == ["other"]


async def test_records_under_acls_are_reached_with_the_functions_rights_as_in_javascript(
    store: SqliteRecordStore, pool: PythonPool
) -> None:
    # A record only its owner may read or write: an anonymous caller of the REST door sees nothing,
    # while a cloud function runs as the backend (as Noodl.Records does in a JavaScript Function).
    acl = {"owner-1": {"read": True, "write": True}}
    private = await store.create("Note", {"text": "secret plan", "ACL": acl}, MASTER)
    anonymous = await store.query("Note", QueryOptions(where={}), CallerContext.anonymous())
    assert anonymous.results == []
    script = (
        "import noodl\n"
        "notes = noodl.records.query('Note', {})\n"
        "noodl.records.save(notes[0], {'text': 'revised'}, collection='Note')\n"
        "outputs['result'] = [n['text'] for n in notes]\n"
        "send_signal('done')\n"
    )

    status, body = await run_records_script(script, {}, store, pool)

    assert (status, body) == (200, {"result": ["secret plan"]})
    saved = await store.fetch("Note", private.object["objectId"], MASTER)
    assert saved["text"] == "revised"
    assert saved["ACL"] == acl  # the function's save kept the record's ACL


async def test_a_refused_records_call_is_an_exception_the_code_can_catch(
    store: SqliteRecordStore, pool: PythonPool
) -> None:
    script = (
        "import noodl\n"
        "try:\n"
        "    noodl.records.save('no-such-id', {'n': 1}, collection='Item')\n"
        "    outputs['result'] = 'saved?'\n"
        "except noodl.RecordsError as error:\n"
        "    outputs['result'] = 'refused: ' + str(error)\n"
        "send_signal('done')\n"
    )

    status, body = await run_records_script(script, {}, store, pool)

    assert status == 200
    assert body["result"].startswith("refused: ")


async def test_python_code_increments_counts_distinct_values_and_relations(
    store: SqliteRecordStore, pool: PythonPool
) -> None:
    script = (
        "import noodl\n"
        "book = noodl.records.create('Book', {'title': 'Dune', 'copies': 1, 'genre': 'sf'})\n"
        "noodl.records.create('Book', {'title': 'Emma', 'copies': 2, 'genre': 'novel'})\n"
        "noodl.records.create('Book', {'title': 'Solaris', 'copies': 2, 'genre': 'sf'})\n"
        "author = noodl.records.create('Author', {'name': 'Herbert'})\n"
        "noodl.records.increment(book, {'copies': 4}, collection='Book')\n"
        "noodl.records.add_relation(book, 'authors', author, collection='Book', target_collection='Author')\n"
        "outputs['result'] = {\n"
        "    'book': book['id'],\n"
        "    'copies': noodl.records.fetch(book['id'], 'Book')['copies'],\n"
        "    'genres': sorted(noodl.records.distinct('Book', 'genre')),\n"
        "    'sf': noodl.records.count('Book', {'genre': 'sf'}),\n"
        "}\n"
        "send_signal('done')\n"
    )

    status, body = await run_records_script(script, {}, store, pool)

    assert status == 200
    result = body["result"]
    assert (result["copies"], result["genres"], result["sf"]) == (5, ["novel", "sf"], 2)
    book = {"__type": "Pointer", "className": "Book", "objectId": result["book"]}
    related = await store.query(
        "Author", QueryOptions(where={"$relatedTo": {"object": book, "key": "authors"}}), MASTER
    )
    assert [row["name"] for row in related.results] == ["Herbert"]
