"""Every error leaves the door in one of two shapes, built in one place (``sidecar.web.wire``)."""

from __future__ import annotations

import inspect
import json

import pytest

import sidecar.errors as errors
from sidecar.web.wire import encode, error_body, error_response, error_status
from tests.web.conftest import Client, app_headers, master_headers


def store_error_classes() -> list[type[errors.StoreError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.StoreError) and cls is not errors.StoreError
    ]


def make(cls: type[errors.StoreError]) -> errors.StoreError:
    return cls() if cls is errors.ObjectNotFoundError else cls("why it failed")


@pytest.mark.parametrize("cls", store_error_classes(), ids=lambda cls: cls.__name__)
def test_store_errors_answer_code_and_message_with_a_non_retried_status(cls: type[errors.StoreError]) -> None:
    error = make(cls)
    assert error_body(error) == {"code": cls.parse_code, "error": error.message}
    status = error_status(error)
    if cls.parse_code == 101:
        assert status == 404
    elif cls is errors.StorageError:
        assert status == 500, "only a real storage failure is worth the SDK's retries"
    else:
        assert 400 <= status < 500


def test_answers_encode_what_the_fast_encoder_refuses() -> None:
    """Integers beyond 64 bits, non-string keys and lone surrogates (echoed request text) still leave as
    JSON, through the json module."""
    assert json.loads(encode({"big": 2**70, "list": [1, "é"]})) == {"big": 2**70, "list": [1, "é"]}
    assert json.loads(encode({1: "one"})) == {"1": "one"}
    assert json.loads(encode({"echo": "bad\udcff"})) == {"echo": "bad?"}


def test_a_non_finite_number_answers_null_as_json_stringify_writes_it() -> None:
    assert json.loads(encode({"n": float("nan"), "m": [float("inf")]})) == {"n": None, "m": [None]}


def test_door_refusals_answer_error_only() -> None:
    assert error_body(errors.AppIdUnauthorizedError()) == {"error": "unauthorized"}
    assert error_status(errors.AppIdUnauthorizedError()) == 403
    assert error_status(errors.BadCredentialError()) == 401
    assert error_status(errors.BodyTooLargeError()) == 413


def test_runtime_errors_keep_their_string_code() -> None:
    error = errors.FunctionTimeoutError("did not answer")
    assert error_body(error) == {"error": "did not answer", "code": "function/timeout"}
    assert error_status(error) == 504


def test_an_unexpected_exception_is_a_500_without_details() -> None:
    response = error_response(RuntimeError("secret internals"))
    assert response.status == 500
    assert response.body == b'{"error":"Internal server error."}'


def test_a_413_closes_the_connection_and_a_429_says_when_to_retry() -> None:
    assert error_response(errors.BodyTooLargeError()).headers["Connection"] == "close"
    assert error_response(errors.TooManyAttemptsError(42)).headers["Retry-After"] == "42"


async def test_api_answers_are_json_utf8(client: Client) -> None:
    for response in (
        await client.get("/classes/X", headers=app_headers()),
        await client.get("/classes/X/missing", headers=app_headers()),
        await client.get("/classes/X"),
    ):
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"


async def test_a_record_missing_a_required_column_is_400_142(client: Client) -> None:
    schema = {"className": "Book", "fields": {"title": {"type": "String", "required": True}}}
    assert (await client.post("/schemas/Book", json=schema, headers=master_headers())).status == 200
    refused = await client.post("/classes/Book", json={"pages": 3}, headers=app_headers())
    assert refused.status == 400
    assert await refused.json() == {"code": 142, "error": "title is required"}
    created = await client.post("/classes/Book", json={"title": "Dune"}, headers=app_headers())
    object_id = (await created.json())["objectId"]
    unset = await client.put(f"/classes/Book/{object_id}", json={"title": None}, headers=app_headers())
    assert (unset.status, (await unset.json())["code"]) == (400, 142)
