"""Body parsing and tunnelling (parse-wire.md §1.3) as pure functions, with property tests: however a
client places its credentials (headers or body), the door sees the same request."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from hypothesis import given
from hypothesis import strategies as st

from sidecar.errors import InvalidJsonBodyError
from sidecar.web.body import (
    Credentials,
    apply_method_override,
    build_wire_request,
    decode_json_object,
    query_params,
)

HEADER_OF = {
    "app_id": ("X-Parse-Application-Id", "_ApplicationId"),
    "master_key": ("X-Parse-Master-Key", "_MasterKey"),
    "session_token": ("X-Parse-Session-Token", "_SessionToken"),
    "client_key": ("X-Parse-Javascript-Key", "_JavaScriptKey"),
}
tokens = st.text(alphabet="abcdefXYZ0123456789:-_", min_size=1, max_size=12)
plain_fields = st.dictionaries(
    st.text(alphabet="abcxyz", min_size=1, max_size=5),
    st.one_of(st.integers(), st.text(max_size=5), st.booleans(), st.none()),
    max_size=4,
)


@given(
    values=st.fixed_dictionaries({}, optional={name: tokens for name in HEADER_OF}),
    in_body=st.sets(st.sampled_from(sorted(HEADER_OF))),
    fields=plain_fields,
)
def test_credentials_read_the_same_from_headers_or_body(
    values: dict[str, str], in_body: set[str], fields: dict[str, Any]
) -> None:
    headers = {HEADER_OF[name][0]: value for name, value in values.items() if name not in in_body}
    body = {**fields, **{HEADER_OF[name][1]: value for name, value in values.items() if name in in_body}}
    wire = build_wire_request(make_mocked_request("POST", "/x", headers=headers), "/x", b"", body)
    assert wire.credentials == Credentials(**values)
    assert wire.params == fields, "tunnelled keys never reach a route"


@given(header=tokens, tunnelled=tokens)
def test_a_header_credential_wins_over_the_body(header: str, tunnelled: str) -> None:
    request = make_mocked_request("POST", "/x", headers={"X-Parse-Application-Id": header})
    wire = build_wire_request(request, "/x", b"", {"_ApplicationId": tunnelled})
    assert wire.credentials.app_id == header


@pytest.mark.parametrize(
    ("real", "override", "expected"),
    [("POST", "GET", "GET"), ("POST", "put", "PUT"), ("POST", "DELETE", "DELETE"), ("POST", "PATCH", "POST")],
)
def test_method_override_only_from_post(real: str, override: str, expected: str) -> None:
    body: dict[str, Any] = {"_method": override, "where": {}}
    assert apply_method_override(real, body) == expected
    assert body == {"where": {}}


def test_method_override_is_ignored_on_other_methods() -> None:
    body: dict[str, Any] = {"_method": "DELETE"}
    assert apply_method_override("PUT", body) == "PUT"


@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8), st.lists, max_leaves=5
    )
)
def test_query_values_decode_as_json_when_they_are_json(value: Any) -> None:
    assert query_params({"k": json.dumps(value)}) == {"k": value}


def test_query_values_that_are_not_json_stay_strings() -> None:
    assert query_params({"order": "-score,name", "keys": "a,b"}) == {"order": "-score,name", "keys": "a,b"}


@pytest.mark.parametrize("raw", [b"[1, 2]", b'"text"', b"{bad", b"\xff\xfe"])
def test_a_body_must_be_a_json_object(raw: bytes) -> None:
    with pytest.raises(InvalidJsonBodyError):
        decode_json_object(raw)


def test_an_empty_body_is_an_empty_object() -> None:
    assert decode_json_object(b"") == {}
    assert decode_json_object(b"  \n") == {}
