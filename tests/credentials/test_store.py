"""The credential store: encrypted at rest, listed without values, a wrong key named as such."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from sidecar.credentials import CheckOutcome, CredentialStore, register_check, unregister_check
from sidecar.credentials.keys import KEY_ENV, KEY_FILE_NAME, KEYRING_ENV, encode_key
from sidecar.errors import (
    CredentialExistsError,
    CredentialKeyError,
    CredentialNotFoundError,
    InvalidCredentialError,
)
from sidecar.secret_text import redact_secrets

VALUE = "sk-ant-api03-" + "Zq7" * 20
PLAIN = "plain-token-without-any-known-format-4711"


def test_a_value_round_trips_and_the_listing_never_shows_it(data_dir: Path) -> None:
    store = CredentialStore(data_dir)
    info = store.create("claude", VALUE, "anthropic")
    assert info.to_wire()["name"] == "claude"
    assert info.to_wire()["env"] == "NOODL_CREDENTIAL_CLAUDE"
    assert CredentialStore(data_dir).lookup("claude").value == VALUE
    listed = json.dumps([item.to_wire() for item in store.list()])
    assert VALUE not in listed
    assert [item.name for item in store.list()] == ["claude"]


def test_the_files_bytes_never_hold_the_value(data_dir: Path) -> None:
    CredentialStore(data_dir).create("plain", PLAIN)
    for path in data_dir.parent.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            assert PLAIN.encode() not in raw, path
            assert PLAIN.encode("utf-16-le") not in raw, path
    document = json.loads((data_dir / "credentials.json").read_text())
    assert document["credentials"][0]["value"].startswith("v1.")


def test_the_key_is_a_0600_file_beside_the_data_directory_and_the_store_is_0600(data_dir: Path) -> None:
    old = os.umask(0)
    try:
        CredentialStore(data_dir).create("plain", PLAIN)
    finally:
        os.umask(old)
    key_file = data_dir.parent / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir / "credentials.json").stat().st_mode) == 0o600
    assert not any(path.name == KEY_FILE_NAME for path in data_dir.rglob("*"))


def test_a_loose_key_file_is_tightened(data_dir: Path) -> None:
    CredentialStore(data_dir).create("plain", PLAIN)
    key_file = data_dir.parent / KEY_FILE_NAME
    os.chmod(key_file, 0o644)
    assert CredentialStore(data_dir).lookup("plain").value == PLAIN
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_wrong_key_file_is_a_clear_error(data_dir: Path) -> None:
    CredentialStore(data_dir).create("plain", PLAIN)
    (data_dir.parent / KEY_FILE_NAME).write_text(encode_key(b"\x01" * 32) + "\n")
    with pytest.raises(CredentialKeyError, match=r"were encrypted with key [0-9a-f]{16}, but the key from"):
        CredentialStore(data_dir).lookup("plain")


def test_a_missing_key_file_is_a_clear_error(data_dir: Path) -> None:
    CredentialStore(data_dir).create("plain", PLAIN)
    (data_dir.parent / KEY_FILE_NAME).unlink()
    with pytest.raises(CredentialKeyError, match="no key for the credentials"):
        CredentialStore(data_dir).lookup("plain")


def test_a_malformed_key_is_a_clear_error(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "bm90LWEta2V5")  # "not-a-key": 9 bytes
    with pytest.raises(CredentialKeyError, match=r"\$NOODL_CREDENTIALS_KEY is \d+ bytes, not 32"):
        CredentialStore(data_dir).create("plain", PLAIN)


def test_a_value_moved_under_another_name_does_not_decrypt(data_dir: Path) -> None:
    store = CredentialStore(data_dir)
    store.create("one", PLAIN)
    store.create("two", "another-value-0000")
    path = data_dir / "credentials.json"
    document = json.loads(path.read_text())
    first, second = document["credentials"]
    first["value"], second["value"] = second["value"], first["value"]
    path.write_text(json.dumps(document))
    with pytest.raises(CredentialKeyError, match="credential one cannot be decrypted"):
        store.lookup("one")


def test_the_key_from_the_environment_opens_a_copied_folder(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = encode_key(os.urandom(32))
    monkeypatch.setenv(KEY_ENV, key)
    CredentialStore(data_dir).create("plain", PLAIN)
    copy = tmp_path / "elsewhere" / "backend_copy"
    copy.mkdir(parents=True)
    (copy / "credentials.json").write_bytes((data_dir / "credentials.json").read_bytes())
    assert CredentialStore(copy).lookup("plain").value == PLAIN
    assert not (data_dir.parent / KEY_FILE_NAME).exists()


def test_the_os_keyring_holds_the_key_when_one_works(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saved: dict[tuple[str, str], str] = {}
    fake = types.ModuleType("keyring")
    fake.get_keyring = lambda: types.SimpleNamespace(priority=5)  # type: ignore[attr-defined]
    fake.get_password = lambda service, account: saved.get((service, account))  # type: ignore[attr-defined]
    fake.set_password = lambda service, account, text: saved.__setitem__((service, account), text)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", fake)
    monkeypatch.setenv(KEYRING_ENV, "1")
    CredentialStore(data_dir).create("plain", PLAIN)
    assert len(saved) == 1
    assert not (data_dir.parent / KEY_FILE_NAME).exists()
    assert CredentialStore(data_dir).lookup("plain").value == PLAIN


def test_a_broken_keyring_falls_back_to_the_key_file(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def locked(*_args: Any) -> str:
        raise RuntimeError("the keyring is locked")

    fake = types.ModuleType("keyring")
    fake.get_keyring = lambda: types.SimpleNamespace(priority=5)  # type: ignore[attr-defined]
    fake.get_password = locked  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", fake)
    monkeypatch.setenv(KEYRING_ENV, "1")
    CredentialStore(data_dir).create("plain", PLAIN)
    assert (data_dir.parent / KEY_FILE_NAME).exists()


def test_create_refuses_an_existing_name_unless_replace(data_dir: Path) -> None:
    store = CredentialStore(data_dir)
    store.create("plain", PLAIN)
    with pytest.raises(CredentialExistsError):
        store.create("plain", "other-value-1234")
    store.create("plain", "other-value-1234", replace=True)
    assert store.lookup("plain").value == "other-value-1234"


@pytest.mark.parametrize(
    ("name", "value", "provider"),
    [("", PLAIN, None), ("1abc", PLAIN, None), ("a b", PLAIN, None), ("ok", "", None), ("ok", 5, None),
     ("ok", PLAIN, "Bad Provider")],
)  # fmt: skip
def test_bad_input_is_refused_and_nothing_is_written(
    data_dir: Path, name: Any, value: Any, provider: Any
) -> None:
    with pytest.raises(InvalidCredentialError):
        CredentialStore(data_dir).create(name, value, provider)
    assert not (data_dir / "credentials.json").exists()


def test_delete_and_unknown_names(data_dir: Path) -> None:
    store = CredentialStore(data_dir)
    store.create("plain", PLAIN)
    assert store.delete("plain") == {"deleted": True, "name": "plain"}
    assert store.list() == []
    with pytest.raises(CredentialNotFoundError):
        store.delete("plain")


def test_lookup_falls_back_on_the_environment(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = CredentialStore(data_dir)
    monkeypatch.setenv("OPENAI_API_KEY", "from-the-sdk-variable")
    assert store.lookup("openai").source == "env:OPENAI_API_KEY"
    assert store.lookup("OPENAI_API_KEY").value == "from-the-sdk-variable"
    monkeypatch.setenv("NOODL_CREDENTIAL_MY_KEY", "deployed-value-123")
    found = store.lookup("my-key")
    assert (found.value, found.source) == ("deployed-value-123", "env:NOODL_CREDENTIAL_MY_KEY")
    with pytest.raises(
        CredentialNotFoundError,
        match=r"anthropic .nor environment variable NOODL_CREDENTIAL_ANTHROPIC or ANTHROPIC_API_KEY",
    ):
        store.lookup("anthropic")


def test_values_the_store_handled_are_hidden_in_log_and_history_text(data_dir: Path) -> None:
    value = "zz-custom-format-credential-98765"
    CredentialStore(data_dir).create("custom", value)
    assert redact_secrets(f"calling with {value} now") == "calling with [REDACTED:credential] now"


async def test_test_answers_untested_without_a_check_and_runs_a_registered_one(data_dir: Path) -> None:
    store = CredentialStore(data_dir)
    store.create("fly", PLAIN, "fly")
    untested = await store.test("fly")
    assert untested["status"] == "untested"

    async def check(value: str) -> CheckOutcome:
        return CheckOutcome("ok" if value == PLAIN else "failed", f"checked {value}")

    register_check("fly", check)
    try:
        result = await store.test("fly")
    finally:
        unregister_check("fly")
    assert result["status"] == "ok"
    assert PLAIN not in result["message"]
    assert store.list()[0].last_test is not None
    assert store.list()[0].last_test["status"] == "ok"  # type: ignore[index]


async def test_concurrent_creates_from_threads_lose_none(data_dir: Path) -> None:
    store = CredentialStore(data_dir)
    names = [f"key{index:02d}" for index in range(16)]
    await asyncio.gather(*(asyncio.to_thread(store.create, name, f"value-of-{name}-000") for name in names))
    assert [info.name for info in store.list()] == names
