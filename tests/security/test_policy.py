"""security.json: the policy's shape, strict validation naming the bad key, and atomic, private writes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from sidecar.backends.security_policy import (
    FunctionRule,
    SecurityPolicy,
    load_policy,
    parse_collection_rules,
    parse_policy,
    save_policy,
)
from sidecar.errors import InvalidSecurityPolicyError, SecurityFileError

FULL_POLICY: dict[str, Any] = {
    "version": 1,
    "devOpen": False,
    "collections": {
        "Todo": {
            "find": {"*": True},
            "create": {"requiresAuthentication": True},
            "delete": {"role:admins": True, "user_42": True},
            "protectedFields": {"*": ["secret"], "authenticated": []},
        }
    },
    "functions": {"hello": {"call": "role:staff", "timeoutMs": 5000}, "ping": {"call": "public"}},
}


def problems_of(raw: Any) -> list[str]:
    with pytest.raises(InvalidSecurityPolicyError) as raised:
        parse_policy(raw)
    return raised.value.problems


def test_a_full_policy_round_trips_through_its_json() -> None:
    policy = parse_policy(FULL_POLICY)
    assert policy.function_rule("hello") == FunctionRule("role:staff", 5000)
    assert policy.function_rule("unknown") == FunctionRule()
    assert policy.to_json() == FULL_POLICY


def test_an_empty_object_is_the_empty_policy() -> None:
    assert parse_policy({}) == SecurityPolicy()
    assert SecurityPolicy().to_json() == {"version": 1, "devOpen": False, "collections": {}, "functions": {}}


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"devOpen": "yes"}, "devOpen"),
        ({"extra": 1}, "'extra'"),
        ({"version": 2}, "version"),
        ({"collections": {"Todo": {"fnd": {"*": True}}}}, "'fnd'"),
        ({"collections": {"Todo": {"find": {"*": False}}}}, "collections.Todo.find.*"),
        ({"collections": {"Todo": {"find": {"role:bad/name": True}}}}, "'role:bad/name'"),
        ({"collections": {"Todo": {"find": ["*"]}}}, "collections.Todo.find"),
        (
            {"collections": {"Todo": {"protectedFields": {"*": "secret"}}}},
            "collections.Todo.protectedFields.*",
        ),
        ({"collections": {"bad name": {}}}, "'bad name'"),
        ({"functions": {"hello": {"call": "everyone"}}}, "functions.hello.call"),
        ({"functions": {"hello": {"timeoutMs": -1}}}, "functions.hello.timeoutMs"),
        ({"functions": {"hello": {"timeoutMs": True}}}, "functions.hello.timeoutMs"),
        ({"functions": {"hello": {"retries": 3}}}, "'retries'"),
    ],
)
def test_every_invalid_entry_is_refused_naming_its_key(raw: dict[str, Any], named: str) -> None:
    assert any(named in problem for problem in problems_of(raw))


def test_all_problems_are_reported_at_once() -> None:
    problems = problems_of({"devOpen": 1, "functions": {"a": {"call": "x", "timeoutMs": "soon"}}})
    assert len(problems) == 3


def test_collection_rules_are_validated_like_a_policy_entry() -> None:
    assert parse_collection_rules("Todo", {"get": {"*": True}}) == ("Todo", {"get": {"*": True}})
    with pytest.raises(InvalidSecurityPolicyError, match="unknown operation 'write'"):
        parse_collection_rules("Todo", {"write": {"*": True}})
    with pytest.raises(InvalidSecurityPolicyError, match="invalid collection name"):
        parse_collection_rules("../etc", {})


def test_a_missing_file_is_the_empty_policy_dev_open_only_on_loopback(tmp_path: Path) -> None:
    assert load_policy(tmp_path) == SecurityPolicy(dev_open=True)
    assert load_policy(tmp_path, loopback=False) == SecurityPolicy(dev_open=False)


def test_a_saved_policy_loads_back_and_only_its_owner_can_read_it(tmp_path: Path) -> None:
    policy = parse_policy(FULL_POLICY)
    save_policy(tmp_path, policy)
    assert load_policy(tmp_path) == policy
    assert stat.S_IMODE(os.stat(tmp_path / "security.json").st_mode) == 0o600
    assert [path.name for path in tmp_path.iterdir()] == ["security.json"]  # no temporary file left


@pytest.mark.parametrize("text", ["{not json", json.dumps({"devOpen": "maybe"})])
def test_an_unreadable_file_refuses_to_load(tmp_path: Path, text: str) -> None:
    (tmp_path / "security.json").write_text(text)
    with pytest.raises(SecurityFileError):
        load_policy(tmp_path)
