"""Secrets never reach history: the contract's header list and key pattern, depth limit, known values."""

from __future__ import annotations

import pytest

from sidecar.history.scrub import REDACTED, TOO_DEEP, UNPARSABLE_BODY, Scrubber, scrub_request


@pytest.mark.parametrize(
    "header",
    [
        "Authorization",
        "cookie",
        "Set-Cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-nodegx-api-key",
        "X-Parse-Master-Key",
        "x-parse-session-token",
        "proxy-authorization",
    ],
)
def test_every_listed_header_is_redacted_whatever_its_case(header: str) -> None:
    logged = scrub_request({header: "s3cr3t-value", "content-type": "application/json"}, "{}")
    assert logged["headers"] == {header: REDACTED, "content-type": "application/json"}


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "userPassword",
        "pwd_pass",
        "passwd",
        "client_secret",
        "refreshToken",
        "apiKey",
        "api-key",
        "accessKey",
        "signing_key",
        "privateKey",
        "keyHash",
        "hmac",
        "Authorization",
        "credentials",
        "salt",
    ],
)
def test_body_keys_matching_the_pattern_are_redacted(key: str) -> None:
    logged = scrub_request({}, f'{{"{key}": "value-1234", "name": "ada"}}')
    assert logged["body"] == {key: REDACTED, "name": "ada"}


def test_logged_request_shape_has_headers_body_size_and_parsed_body() -> None:
    body = '{"user": {"name": "ada", "token": "abcd-efgh"}, "items": [1, 2]}'
    assert scrub_request({"accept": "*/*"}, body) == {
        "headers": {"accept": "*/*"},
        "bodySize": len(body),
        "body": {"user": {"name": "ada", "token": REDACTED}, "items": [1, 2]},
    }


def test_an_unparsable_body_is_not_stored_at_all() -> None:
    logged = scrub_request({}, "password=hunter22&x=1")
    assert logged == {"headers": {}, "bodySize": 21, "body": UNPARSABLE_BODY}


def test_containers_deeper_than_six_levels_are_cut() -> None:
    deep: object = {"password": "hidden-deep"}
    for _ in range(7):
        deep = {"level": deep}
    scrubbed = Scrubber().value(deep)
    for _ in range(6):
        assert isinstance(scrubbed, dict)
        scrubbed = scrubbed["level"]
    assert scrubbed == TOO_DEEP


def test_a_secret_value_is_hidden_wherever_it_travels_later_in_the_run() -> None:
    scrubber = Scrubber()
    scrubber.request({"authorization": "Bearer tok-123456"}, '{"password": "hunter22", "note": "hi"}')

    later_inputs = {"in-pwd": "hunter22", "in-msg": "login with hunter22 now", "in-auth": "tok-123456"}
    assert scrubber.value(later_inputs) == {
        "in-pwd": REDACTED,
        "in-msg": f"login with {REDACTED} now",
        "in-auth": REDACTED,
    }
    assert scrubber.text("Error: bad password hunter22") == f"Error: bad password {REDACTED}"


def test_short_values_are_not_treated_as_secrets_elsewhere() -> None:
    scrubber = Scrubber()
    scrubber.request({}, '{"token": "1"}')
    assert scrubber.value({"count": "1"}) == {"count": "1"}


def test_headers_nested_in_node_data_use_the_header_list() -> None:
    scrubbed = Scrubber().value({"headers": {"X-Parse-Master-Key": "mk-0000", "accept": "json"}})
    assert scrubbed == {"headers": {"X-Parse-Master-Key": REDACTED, "accept": "json"}}


def test_language_model_token_counts_are_kept_but_tokens_themselves_are_not() -> None:
    usage = {"inputTokens": 20, "output_tokens": 9, "maxTokens": 5, "accessToken": "abcd", "tokens": "xyz1"}
    assert Scrubber().value(usage) == {
        "inputTokens": 20,
        "output_tokens": 9,
        "maxTokens": 5,
        "accessToken": REDACTED,
        "tokens": REDACTED,
    }
