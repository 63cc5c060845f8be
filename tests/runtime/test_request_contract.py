"""The Request node's typed request contract: ptype-/preq-/pdef- per declared parameter (spec §3)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sidecar.runtime import Runtime, make_request
from tests.runtime.graphs import component, conn, export, request_node, response_node


async def call(contract: dict[str, Any], body: Any, names: str = "a,b", **headers: str) -> tuple[int, Any]:
    """Run Request(params=names, contract) → Response(result = every declared parameter)."""
    declared = [name for name in names.split(",") if name]
    nodes = [request_node(params=names, **contract), response_node(params=names)]
    connections = [conn("req", f"pm-{name}", "resp", f"pm-{name}") for name in dict.fromkeys(declared)]
    connections.append(conn("req", "receive", "resp", "send"))
    runtime = Runtime.from_export(export(component("f", nodes, connections)), timeout_seconds=1.0)
    response = await runtime.run("f", make_request(body, headers))
    return response.status_code, json.loads(response.body)


async def test_without_a_contract_the_body_passes_as_it_came() -> None:
    assert await call({}, {"a": "1", "b": None}) == (200, {"result": {"a": "1", "b": None}})


@pytest.mark.parametrize(
    ("declared", "sent", "received"),
    [
        ("number", " 42 ", 42),
        ("number", "2.5", 2.5),
        ("number", True, 1),
        ("string", 7, "7"),
        ("string", 0.1, "0.1"),
        ("string", False, "false"),
        ("string", {"x": [1]}, '{"x":[1]}'),
        ("boolean", "TRUE", True),
        ("boolean", "false", False),
        ("boolean", 0, False),
        ("boolean", 3, True),
        ("object", '{"k": 1}', {"k": 1}),
        ("array", "[1, 2]", [1, 2]),
        ("date", "2024-05-06T07:08:09Z", "2024-05-06T07:08:09.000Z"),
        ("date", "2024-05-06", "2024-05-06T00:00:00.000Z"),
        ("date", 0, "1970-01-01T00:00:00.000Z"),
        ("*", "anything", "anything"),
        ("no-such-type", [1], [1]),
    ],
)
async def test_values_are_coerced_to_their_declared_type(declared: str, sent: Any, received: Any) -> None:
    status, body = await call({"ptype-a": declared}, {"a": sent})
    assert (status, body) == (200, {"result": {"a": received}})


@pytest.mark.parametrize(
    ("declared", "sent", "kind"),
    [
        ("number", "", "string"),
        ("number", "12abc", "string"),
        ("number", "Infinity", "string"),
        ("number", [1], "array"),
        ("boolean", "yes", "string"),
        ("object", "[1]", "string"),
        ("object", "{bad json", "string"),
        ("array", {"k": 1}, "object"),
        ("date", "not a date", "string"),
        ("date", True, "boolean"),
    ],
)
async def test_a_value_that_cannot_be_coerced_fails_with_400(declared: str, sent: Any, kind: str) -> None:
    status, body = await call({"ptype-a": declared}, {"a": sent})
    assert status == 400
    assert body == {
        "error": f'Invalid request body: "a" expects {declared}, received {kind}',
        "fields": [{"name": "a", "code": "type", "expected": declared, "received": kind}],
    }


async def test_required_defaults_and_null_follow_the_contract() -> None:
    contract = {"ptype-a": "number", "preq-a": True, "ptype-b": "number", "preq-b": True, "pdef-b": "5"}
    # null counts as absent; a default beats required and is coerced like a sent value
    assert await call(contract, {"a": 1, "b": None}) == (200, {"result": {"a": 1, "b": 5}})
    status, body = await call(contract, {"b": "x"})
    assert status == 400
    assert body["error"] == 'Invalid request body: "a" is required; "b" expects number, received string'
    assert [field["code"] for field in body["fields"]] == ["missing", "type"]


async def test_undeclared_keys_pass_through_and_names_are_not_trimmed() -> None:
    status, body = await call({"ptype- a": "number"}, {" a": "3", "other": "x"}, names=" a,, a")
    assert (status, body) == (200, {"result": {" a": 3}})


async def test_the_contract_is_checked_before_the_graph_runs() -> None:
    nodes = [request_node(params="n", **{"ptype-n": "number", "preq-n": True}), response_node()]
    connections = [conn("req", "receive", "resp", "send")]  # had the graph run, this would answer 200
    runtime = Runtime.from_export(export(component("f", nodes, connections)), timeout_seconds=1.0)
    response = await runtime.run("f", make_request({}))
    assert response.status_code == 400
    assert json.loads(response.body)["fields"] == [
        {"name": "n", "code": "missing", "expected": "number", "received": "undefined"}
    ]


async def test_origin_is_the_origin_header_or_the_backend_host() -> None:
    nodes = [request_node(), response_node(params="o")]
    connections = [conn("req", "origin", "resp", "pm-o"), conn("req", "receive", "resp", "send")]
    runtime = Runtime.from_export(export(component("f", nodes, connections)), timeout_seconds=1.0)
    with_origin = await runtime.run("f", make_request({}, {"origin": "https://app.example", "host": "h:1"}))
    host_only = await runtime.run("f", make_request({}, {"host": "127.0.0.1:8578"}))
    assert json.loads(with_origin.body) == {"result": {"o": "https://app.example"}}
    assert json.loads(host_only.body) == {"result": {"o": "http://127.0.0.1:8578"}}
