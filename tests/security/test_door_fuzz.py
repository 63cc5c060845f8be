"""Malformed input on every route of a served backend is a 4xx, never a 500 (issue 15, item 6).

Hypothesis builds requests from the door's route table with wrong-typed, huge, unknown or broken
parts: invalid JSON and non-JSON bytes, wrong value types, numbers past any integer or float, unknown
``__op``/``__type``/actions, invalid ids and class names, odd content types and credentials. Every
answer must be below 500 and, when it is an error, carry the door's JSON error shape. (The query
compiler's own bounds, such as nesting depth or an out-of-range ``limit``, are tested with it.)
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.security.conftest import ADMIN, APP, BACKEND_ID

ROUTES = [
    ("GET", "/classes/{name}"),
    ("POST", "/classes/{name}"),
    ("GET", "/classes/{name}/{id}"),
    ("PUT", "/classes/{name}/{id}"),
    ("DELETE", "/classes/{name}/{id}"),
    ("POST", "/batch"),
    ("POST", "/users"),
    ("PUT", "/users/{id}"),
    ("POST", "/login"),
    ("GET", "/users/me"),
    ("POST", "/logout"),
    ("GET", "/sessions"),
    ("POST", "/functions/{name}"),
    ("GET", "/aggregate/{name}"),
    ("GET", "/schemas/{name}"),
    ("POST", "/schemas/{name}"),
    ("PUT", "/schemas/{name}"),
    ("DELETE", "/schemas/{name}"),
    ("PUT", "/config"),
    ("POST", "/files/{name}"),
    ("DELETE", "/files/{name}"),
    ("GET", "/api/{name}"),
    ("POST", "/api/{name}"),
    ("GET", "/api/{name}/{id}"),
    ("PUT", "/api/{name}/{id}"),
    ("DELETE", "/api/{name}/{id}"),
    ("POST", "/api/_batch"),
    ("POST", "/api/_schema"),
    ("GET", "/admin/schema/{name}"),
    ("POST", "/admin/schema"),
    ("GET", "/admin/schema-export"),
    ("PUT", "/admin/workflows/{name}"),
    ("DELETE", "/admin/workflows/{name}"),
    ("GET", "/executions"),
    ("GET", "/executions/{id}"),
    ("POST", "/admin/triggers"),
    ("GET", "/admin/triggers/{id}"),
    ("PUT", "/admin/triggers/{id}"),
    ("POST", "/admin/triggers/{id}/enabled"),
    ("POST", "/admin/triggers/{id}/fire"),
    ("DELETE", "/admin/triggers/{id}"),
    ("PUT", "/admin/permissions"),
    ("POST", "/admin/permissions/check"),
    ("PUT", "/admin/permissions/collections/{name}"),
    ("POST", "/admin/roles"),
    ("POST", "/admin/roles/{name}/users"),
    ("DELETE", "/admin/roles/{name}/users/{id}"),
    ("POST", "/admin/keys"),
    ("DELETE", "/admin/keys/{id}"),
    ("POST", "/realtime/subscriptions"),
    ("POST", "/hooks/" + BACKEND_ID + "/{name}"),
]
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


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    route=st.sampled_from(ROUTES),
    name=segments,
    object_id=segments,
    body=bodies,
    query=queries,
    headers=credentials,
    content_type=content_types,
)
async def test_malformed_requests_never_answer_5xx(
    http: aiohttp.ClientSession,
    route: tuple[str, str],
    name: str,
    object_id: str,
    body: bytes,
    query: dict[str, str],
    headers: dict[str, str],
    content_type: str,
) -> None:
    method, pattern = route
    path = pattern.replace("{name}", name).replace("{id}", object_id)
    sent = {**headers, "Content-Type": content_type}
    async with http.request(method, path, params=query, data=body, headers=sent) as response:
        text = await response.text()
    event(f"{method} {pattern.split('/')[1]} {response.status}")
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
