"""The key ring and the function gate as plain code: no server, no store."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from sidecar.backends.access import collection_decision, function_decision
from sidecar.backends.api_keys import ApiKeyRing, hash_key, validate_scopes
from sidecar.backends.security_policy import parse_policy
from sidecar.errors import ApiKeyNotFoundError, InvalidSecurityPolicyError, SecurityFileError
from sidecar.store import CallerContext, CallerKind
from sidecar.web.auth import ApiKeyCaller


def test_a_key_is_found_by_its_plaintext_until_it_is_revoked(tmp_path: Path) -> None:
    ring = ApiKeyRing.open(tmp_path)
    key, plaintext = ring.create("ci", ("data:read",), None)
    assert ring.find(plaintext) == key
    assert ring.find(plaintext + "x") is None
    assert key.key_hash == hash_key(plaintext)
    reopened = ApiKeyRing.open(tmp_path)
    assert reopened.find(plaintext) == key
    reopened.revoke(key.object_id)
    assert reopened.find(plaintext) is None
    assert ApiKeyRing.open(tmp_path).find(plaintext) is None  # the revocation is on disk
    with pytest.raises(ApiKeyNotFoundError):
        reopened.revoke("missing")


def test_a_corrupt_key_file_refuses_to_open(tmp_path: Path) -> None:
    (tmp_path / "api-keys.json").write_text('{"keys": [{"name": "half"}]}')
    with pytest.raises(SecurityFileError):
        ApiKeyRing.open(tmp_path)


def test_scopes_are_checked_and_deduplicated() -> None:
    assert validate_scopes(["data:read", "functions:hello", "data:read"]) == ("data:read", "functions:hello")
    for bad in (["admin"], ["functions:"], "data:read", []):
        with pytest.raises(InvalidSecurityPolicyError):
            validate_scopes(bad)


ANONYMOUS = CallerContext.anonymous()
USER = CallerContext.user("u1", frozenset({"staff"}))


def allowed(policy: Mapping[str, object], caller: CallerContext, no_auth: bool = False) -> bool:
    return function_decision(parse_policy(policy), "f", caller, lambda: no_auth).allowed


def test_the_function_gate_applies_its_rules_in_the_contract_order() -> None:
    key_without_scope = ApiKeyCaller(CallerKind.USER, user_id="u1", scopes=frozenset({"data:read"}))
    key_with_scope = ApiKeyCaller(CallerKind.ANONYMOUS, scopes=frozenset({"functions:f"}))
    admin_only = {"functions": {"f": {"call": "admin"}}}
    assert allowed(admin_only, CallerContext.master())
    assert allowed(admin_only, key_with_scope)  # a scope is the key's permission
    assert not allowed({}, key_without_scope, no_auth=True)  # a key needs a function scope
    assert allowed({"devOpen": True, **admin_only}, ANONYMOUS)
    assert not allowed({"functions": {"f": {"call": "authenticated"}}}, ANONYMOUS, no_auth=True)
    assert allowed({"functions": {"f": {"call": "role:staff"}}}, USER)
    assert not allowed({"functions": {"f": {"call": "role:admins"}}}, USER)
    assert allowed({}, ANONYMOUS, no_auth=True)
    assert not allowed({}, ANONYMOUS, no_auth=False)
    assert allowed({}, USER, no_auth=False)


def test_the_collection_explanation_knows_pointer_permissions() -> None:
    """A read narrowed by pointer permissions is allowed (to the caller's own rows), as the store reads it."""
    clp = {"find": {"pointerFields": ["owner"]}}
    ann = CallerContext.user("ann")
    narrowed = collection_decision(clp, "find", ann, "Ticket")
    assert narrowed.allowed
    assert narrowed.reason == "pointer permission of Ticket: only rows whose owner point at the caller"
    assert not collection_decision(
        {"find": {"requiresAuthentication": True}}, "find", CallerContext.anonymous(), "T"
    ).allowed
