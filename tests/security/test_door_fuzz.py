"""Malformed input on every route of a served backend is a 4xx, never a 500 (issue 15, item 6).

For each route, Hypothesis takes a well-formed request and puts something wrong in one to three places
(a wrong type or shape, a number past any integer or float, unknown ``__op``/``__type``/actions), or
sends broken JSON, bytes that are not JSON, odd content types, invalid ids and class names and odd
credentials. Every answer must be below 500 and, when it is an error, carry the door's JSON error
shape. The inputs are derandomized, so a failure is a regression; the cases the fuzzing found are
pinned below, with header bytes that are not UTF-8. (The query compiler's own bounds, such as nesting
depth or an out-of-range ``limit``, are tested with it.)
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidecar.backends.backend import Backend
from tests.security.conftest import ADMIN, APP, BACKEND_ID

Route = tuple[str, str, list[Any]]
WEBHOOK = {
    "type": "webhook",
    "target": {"kind": "function", "name": "hello"},
    "webhook": {"slug": "greet", "scheme": "token"},
}
ROUTES: list[Route] = [
    # (method, path, well-formed bodies, or query parameters for GET, that the fuzzing mutates)
    ("GET", "/classes/{name}", [{"where": {"a": {"$gt": 1}}, "order": "-a", "keys": "a", "include": "p"}]),
    ("POST", "/classes/{name}", [
        {"a": 1, "d": {"__type": "Date", "iso": "2020-01-01T00:00:00.000Z"}, "ACL": {"*": {"read": True}},
         "n": {"__op": "Increment", "amount": 1},
         "p": {"__type": "Pointer", "className": "Todo", "objectId": "x"}},
        {"_method": "GET", "where": {"a": 1}, "order": "-a", "keys": "a", "count": 1},
    ]),
    ("GET", "/classes/{name}/{id}", [{"include": "p"}]),
    ("PUT", "/classes/{name}/{id}", [{"a": {"__op": "Add", "objects": [1]}, "r": {"__op": "AddRelation",
        "objects": [{"__type": "Pointer", "className": "Todo", "objectId": "x"}]}}]),
    ("DELETE", "/classes/{name}/{id}", []),
    ("POST", "/batch", [{"requests": [{"method": "POST", "path": "/classes/Todo", "body": {"a": 1}}]}]),
    ("POST", "/users", [{"username": "u1", "password": "p", "email": "a@b.co"}]),
    ("PUT", "/users/{id}", [{"username": "u2", "password": "p2"}]),
    ("POST", "/login", [{"username": "u1", "password": "p"}]),
    ("GET", "/users/me", []),
    ("POST", "/logout", []),
    ("GET", "/sessions", [{"where": {"user": {"__type": "Pointer", "className": "_User", "objectId": "x"}}}]),
    ("POST", "/functions/{name}", [{"x": 1}]),
    ("GET", "/aggregate/{name}", [{"$group": {"_id": None, "s": {"$sum": "$a"}}, "$match": {"a": 1}},
                                  {"distinct": "a", "where": {"a": 1}}]),
    ("GET", "/schemas/{name}", []),
    ("POST", "/schemas/{name}", [{"fields": {"z": {"type": "Pointer", "targetClass": "Todo"}},
                                  "classLevelPermissions": {"find": {"*": True}},
                                  "indexes": {"i": {"z": 1}}}]),
    ("PUT", "/schemas/{name}", [{"fields": {"y": {"type": "String", "required": True,
                                                  "defaultValue": "d"}}}]),
    ("DELETE", "/schemas/{name}", []),
    ("PUT", "/config", [{"params": {"a": 1}}]),
    ("POST", "/files/{name}", [{"base64": "aGVsbG8=", "_ContentType": "text/plain"}]),
    ("DELETE", "/files/{name}", []),
    ("GET", "/api/{name}", [{"where": {"a": 1}, "sort": ["-a"], "count": "1"}]),
    ("POST", "/api/{name}", [{"a": 1, "b": "x"}]),
    ("GET", "/api/{name}/{id}", []),
    ("PUT", "/api/{name}/{id}", [{"a": 2}]),
    ("DELETE", "/api/{name}/{id}", []),
    ("POST", "/api/_batch", [{"requests": [{"method": "POST", "path": "/api/Todo", "body": {"a": 1}}]}]),
    ("POST", "/api/_schema", [{"table": {"name": "T", "columns": [{"name": "a", "type": "String"}]}},
                              {"table": "Todo", "column": {"name": "b", "type": "Number"}}]),
    ("GET", "/admin/schema/{name}", []),
    ("POST", "/admin/schema", [
        {"action": "createTable", "table": "T", "columns": [{"name": "a", "type": "String"}]},
        {"action": "addColumn", "table": "Todo", "column": {"name": "c", "type": "String", "default": "x"}},
        {"action": "renameColumn", "table": "Todo", "oldName": "a", "newName": "b"},
        {"action": "deleteTable", "table": "T"},
    ]),
    ("GET", "/admin/schema-export", [{"format": "postgres"}]),
    ("PUT", "/admin/workflows/{name}", [{"components": [{"name": "/#__cloud__/w", "nodes": [
        {"id": "a", "type": "Expression", "parameters": {"expression": "1"}}], "connections": []}]}]),
    ("DELETE", "/admin/workflows/{name}", []),
    ("GET", "/executions", [{"status": "success", "workflowId": "w", "offset": "0", "startedAfter": "0"}]),
    ("GET", "/executions/{id}", []),
    ("POST", "/executions/{id}/run-from", [{"nodeId": "x", "pins": {}}]),
    ("POST", "/executions/{id}/continue", []),
    ("POST", "/executions/{id}/step", []),
    ("GET", "/admin/debug/pins/{name}", []),
    ("PUT", "/admin/debug/pins/{name}", [{"x": {"out": 1}}]),
    ("POST", "/admin/debug/run/{name}", [{"body": {"name": "fuzz"}, "pins": {}, "useSavedPins": False}]),
    ("POST", "/admin/triggers", [
        {"type": "webhook", "target": {"kind": "function", "name": "f"},
         "webhook": {"slug": "s", "scheme": "token", "maxBodyBytes": 1000}},
        {"type": "schedule", "target": {"kind": "function", "name": "f"}, "schedule": {"cron": "* * * * *"}},
    ]),
    ("GET", "/admin/triggers/{id}", []),
    ("PUT", "/admin/triggers/{id}", [{"type": "schedule", "target": {"kind": "function", "name": "f"},
                                      "schedule": {"cron": "0 * * * *"}}]),
    ("POST", "/admin/triggers/{id}/enabled", [{"enabled": True}]),
    ("POST", "/admin/triggers/{id}/fire", [{"payload": {"a": 1}}]),
    ("DELETE", "/admin/triggers/{id}", []),
    ("PUT", "/admin/permissions", [{"devOpen": False, "collections": {"Todo": {"find": {"public": True}}}}]),
    ("POST", "/admin/permissions/check", [{"collection": "Todo", "operation": "find", "userId": "x"}]),
    ("PUT", "/admin/permissions/collections/{name}", [{"find": {"public": True}}]),
    ("POST", "/admin/roles", [{"name": "r1"}]),
    ("POST", "/admin/roles/{name}/users", [{"userId": "x"}]),
    ("DELETE", "/admin/roles/{name}/users/{id}", []),
    ("POST", "/admin/keys", [{"name": "k", "scopes": ["data:read"], "actsAsUserId": None}]),
    ("DELETE", "/admin/keys/{id}", []),
    ("POST", "/realtime/subscriptions", [{"clientId": "x", "subscriptions": [{"collection": "Todo"}]}]),
    ("POST", "/hooks/" + BACKEND_ID + "/{name}", [{"a": 1}]),
]  # fmt: skip
KEYS = [
    "__op", "__type", "objectId", "ACL", "where", "limit", "skip", "order", "keys", "include", "count",
    "requests", "method", "path", "body", "className", "fields", "classLevelPermissions", "table",
    "column", "columns", "action", "name", "type", "scopes", "enabled", "target", "webhook", "schedule",
    "subscriptions", "clientId", "collection", "filter", "username", "password", "email", "sessionToken",
    "authData", "_method", "params", "userId", "devOpen", "collections", "payload", "objects", "amount",
    "iso", "latitude", "longitude", "base64", "createdAt", "updatedAt", "$or", "$and", "$in", "$regex",
    "group", "distinct", "oldName", "newName", "actsAsUserId", "timeoutMs", "kind", "slug", "x",
]  # fmt: skip
WORDS = [
    "Pointer", "Date", "Relation", "File", "GeoPoint", "Polygon", "Bytes", "Object", "Array", "String",
    "Number",
    "Increment", "Add", "AddUnique", "Remove", "Delete", "Batch", "AddRelation", "RemoveRelation", "Bogus",
    "createTable", "addColumn", "renameColumn", "deleteTable", "webhook", "schedule", "function", "*",
    "POST", "PUT", "DELETE", "GET", "/classes/Todo", "/api/Todo", "/api/Todo/x", "data:read", "2026-13-45",
]  # fmt: skip
NAMES = ["Todo", "_User", "_Session", "_Role", "hello", "a b", "..", "%00", "$x", "1abc", "é", "x" * 300]

huge_numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.sampled_from([2**63, -(2**63) - 1, 2**64, 1e308, -1e308, 5e-324, 10**400]),
    st.floats(allow_nan=False, allow_infinity=False),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    huge_numbers,
    st.text(max_size=12),
    st.sampled_from(NAMES),
    st.sampled_from(WORDS),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), children, max_size=5),
    ),
    max_leaves=12,
)
wrong_values: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from([None, True, 0, -1, 10**40, 1e308, "", "x", [], {}, [1], ["x"], [{}], {"a": 1}]),
    json_values,
)
"""What replaces a value of a well-formed request: a wrong type or shape first, then anything."""
bodies = st.one_of(
    json_values.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=40),
    st.sampled_from([b"{", b'{"a":', b"[1,2", b"NaN", b'{"x": Infinity}', b"\xff\xfe", b"null", b'"s"']),
)
segments = st.one_of(st.sampled_from(NAMES), st.text(min_size=1, max_size=20)).map(
    lambda s: quote(s, safe="")
)
queries = st.dictionaries(
    st.sampled_from(["where", "order", "keys", "include", "count", "sort", "format", "distinct", "group",
                     "status", "workflowId", "lastEventId", "excludeKeys", "x"]),
    st.one_of(st.text(max_size=12), json_values.map(json.dumps)),
    max_size=3,
)  # fmt: skip
credentials = st.sampled_from(
    [
        ADMIN,
        {**APP, **ADMIN},
        APP,
        {},
        {**APP, "X-Parse-Session-Token": "r:nope"},
        {"X-NodeGX-Api-Key": "ngx_nope"},
        {**APP, "X-Parse-Master-Key": "undefined"},
        {**APP, "Authorization": "Bearer "},
        {**APP, "Authorization": "Basic Zm9vOmJhcg=="},
        {"X-Parse-Application-Id": "x" * 2000},
        {**ADMIN, "X-Parse-Session-Token": "r:nope", "X-NodeGX-Api-Key": ""},
    ]
)
content_types = st.sampled_from(
    [
        "application/json",
        "text/plain",
        "application/octet-stream",
        "multipart/form-data",
        "",
        "x/y; charset=zz",
    ]
)


def error_shaped(body: Any) -> bool:
    """``{error, code?}``, or the admin routes' ``{success: false, error?}``."""
    return isinstance(body, dict) and (isinstance(body.get("error"), str) or body.get("success") is False)


def paths_in(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place inside a JSON value (the root included)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths_in(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths_in(child, (*prefix, index))
    return found


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = replaced(value[path[0]], path[1:], new)
    return copy


@st.composite
def mutated(draw: st.DrawFn, templates: list[Any]) -> Any:
    """A well-formed body with one to three of its values replaced by something wrong."""
    value = draw(st.sampled_from(templates))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        value = replaced(value, draw(st.sampled_from(paths_in(value))), draw(wrong_values))
    return value


def as_query(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {"where": json.dumps(value)}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


@st.composite
def malformed_requests(draw: st.DrawFn, route: Route) -> tuple[str, dict[str, str], bytes]:
    method, pattern, templates = route
    path = pattern.replace("{name}", draw(segments)).replace("{id}", draw(segments))
    shaped = bool(templates) and draw(st.integers(0, 3)) > 0  # mostly a mutated well-formed request
    if method == "GET":
        query = as_query(draw(mutated(templates))) if shaped else draw(queries)
        return path, query, b""
    body = json.dumps(draw(mutated(templates))).encode() if shaped else draw(bodies)
    return path, draw(queries), body


@pytest.mark.parametrize("route", ROUTES, ids=[f"{method} {pattern}" for method, pattern, _ in ROUTES])
@settings(
    max_examples=25,
    derandomize=True,  # the same inputs on every run: a failure here is a regression, never luck
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    # Mostly as the admin, so the request gets past authentication to the code that reads it.
    headers=st.one_of(st.just({**APP, **ADMIN}), credentials),
    content_type=content_types,
)
async def test_malformed_requests_never_answer_5xx(
    http: aiohttp.ClientSession, route: Route, data: st.DataObject, headers: dict[str, str], content_type: str
) -> None:
    method = route[0]
    path, query, body = data.draw(malformed_requests(route))
    sent = {**headers, "Content-Type": content_type}
    async with http.request(method, path, params=query, data=body, headers=sent) as response:
        text = await response.text()
    assert response.status < 500, f"{method} {path} {query} {body!r} -> {response.status} {text}"
    if response.status >= 400 and response.content_type == "application/json":
        assert error_shaped(json.loads(text)), text


# Cases the fuzzing found (each answered 500 before): wrong types deep in admin and schema bodies, an
# integer SQLite cannot bind, a name the file system refuses.
FOUND = [
    ("POST", "/admin/schema", {"action": "createTable", "table": "T1", "columns": [1]}),
    ("POST", "/admin/schema", {"action": "createTable", "table": "T2", "columns": "x"}),
    ("POST", "/api/_schema", {"table": {"name": "T3", "columns": {"a": 1}}}),
    ("PUT", "/schemas/Todo", {"fields": "x"}),
    ("PUT", "/schemas/Todo", {"fields": {"z": {"type": []}}}),
    ("POST", "/schemas/Fresh", {"fields": [1]}),
    ("POST", "/schemas/Fresh2", {"fields": {"z": {"type": {"a": 1}}}}),
    ("GET", "/executions?offset=99999999999999999999999", None),
    ("GET", "/executions?startedAfter=99999999999999999999999", None),
    ("GET", "/executions?startedBefore=%C2%B2", None),
    ("DELETE", "/files/" + "x" * 300, None),
    # JSON escapes of lone surrogates decode to strings no store, file or answer can encode
    ("PUT", "/config", {"params": {"a": "\ud800"}}),
    ("POST", "/admin/keys", {"name": "\udcff", "scopes": ["data:read"]}),
    ("POST", "/schemas/Fresh3", {"fields": {"\ud800": {"type": "String"}}}),
    ("POST", "/classes/Todo", {"\ud800": 1}),
]


@pytest.mark.parametrize(("method", "path", "body"), FOUND)
async def test_malformed_requests_found_by_fuzzing_are_4xx(
    http: aiohttp.ClientSession, method: str, path: str, body: Any
) -> None:
    assert (await http.post("/classes/Todo", json={"a": 1}, headers={**APP, **ADMIN})).status == 201
    assert (await http.post("/files/a.txt", data=b"x", headers=APP)).status == 201
    async with http.request(method, path, json=body, headers={**APP, **ADMIN}) as response:
        answered = await response.json()
    assert 400 <= response.status < 500, answered
    assert error_shaped(answered)


# Header bytes that are not UTF-8 (aiohttp hands them over as lone surrogates): each was a 500.
RAW_HEADERS = [
    ("GET /admin/status", b"Authorization: Bearer \xff\xfe"),
    ("GET /classes/X", b"X-Parse-Application-Id: b\xff"),
    ("GET /classes/X", b"X-Parse-Application-Id: " + BACKEND_ID.encode() + b"\r\nAuthorization: Bearer \xff"),
    ("GET /api/X", b"X-Parse-Master-Key: \xff"),
    ("GET /api/X", b"X-Parse-Session-Token: r:\xff"),
    ("GET /api/X", b"X-NodeGX-Api-Key: ngx_\xff"),
    ("GET /realtime", b"Accept: text/event-stream\r\nX-Parse-Session-Token: r:\xff"),
    ("POST /hooks/" + BACKEND_ID + "/greet", b"X-Webhook-Token: \xff"),
    ("GET /health", b"X-Forwarded-Host: x\r\nHost: \xff"),
    ("POST /api/X", b"Content-Encoding: gzip\r\nContent-Type: application/json"),
]


@pytest.mark.parametrize(("line", "header"), RAW_HEADERS)
async def test_header_bytes_that_are_not_utf8_are_4xx(
    backend: Backend, http: aiohttp.ClientSession, line: str, header: bytes
) -> None:
    await http.post("/admin/triggers", json=WEBHOOK, headers=ADMIN)
    head = line.encode() + b" HTTP/1.1\r\n"
    if b"Host:" not in header:
        head += b"Host: 127.0.0.1\r\n"
    body = b"\r\nContent-Length: 4\r\n\r\nabcd" if line.startswith("POST") else b"\r\n\r\n"
    request = head + header + body
    reader, writer = await asyncio.open_connection("127.0.0.1", backend.port)
    try:
        writer.write(request)
        async with asyncio.timeout(5):
            status_line = await reader.readline()
    finally:
        writer.close()
    assert 400 <= int(status_line.split()[1]) < 500, status_line
