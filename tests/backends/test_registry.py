"""The backend registry on a real folder: ids, layout, ports, secrets, atomicity."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import pytest

from sidecar.backends.registry import (
    FIRST_PORT,
    BackendNotFoundError,
    BackendRegistry,
    ensure_admin_token,
    new_backend_id,
    read_admin_token,
    validate_backend_id,
)
from sidecar.errors import InvalidParamsError


@pytest.fixture
def registry(tmp_path: Path) -> BackendRegistry:
    return BackendRegistry(tmp_path / "backends")


def test_ids_are_backend_underscore_base36_time_and_five_random_characters() -> None:
    backend_id = new_backend_id(now_ms=1_700_000_000_000)
    assert backend_id.startswith("backend_loyw3v28")  # base36 of the epoch milliseconds
    assert len(backend_id) == len("backend_loyw3v28") + 5
    assert new_backend_id() != new_backend_id()


def test_create_writes_the_contract_layout(registry: BackendRegistry) -> None:
    config = registry.create("My App")
    folder = registry.root / config.id
    assert json.loads((folder / "config.json").read_text()) == {
        "id": config.id,
        "name": "My App",
        "createdAt": config.created_at,
        "port": config.port,
        "projectIds": [],
    }
    assert config.created_at.endswith("Z")
    assert json.loads((folder / "schema.json").read_text()) == {"tables": []}
    assert all((folder / sub).is_dir() for sub in ("data", "workflows", "files"))
    assert stat.S_IMODE((folder / "secrets.json").stat().st_mode) == 0o600
    assert len(read_admin_token(folder) or "") >= 32


def test_ports_start_at_8578_and_skip_known_and_busy_ports(registry: BackendRegistry) -> None:
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            squatter.bind(("127.0.0.1", FIRST_PORT))
        except OSError:
            pytest.skip("port 8578 is taken by something else on this machine")
        squatter.listen()
        first = registry.create("a")
        second = registry.create("b")
    assert first.port == FIRST_PORT + 1
    assert second.port == FIRST_PORT + 2


def test_list_get_and_delete(registry: BackendRegistry) -> None:
    assert registry.list() == []
    one = registry.create("one")
    two = registry.create("two")
    assert [c.id for c in registry.list()] == [one.id, two.id]
    assert registry.get(one.id) == one
    registry.delete(one.id)
    assert registry.get(one.id) is None
    assert [c.id for c in registry.list()] == [two.id]
    assert sorted(p.name for p in registry.root.iterdir()) == [two.id]


@pytest.mark.parametrize("bad", ["../etc", "backend_../x", "", "BACKEND_1", 42, None, "backend_a/b"])
def test_ids_that_could_escape_the_registry_are_refused(registry: BackendRegistry, bad: object) -> None:
    with pytest.raises(InvalidParamsError):
        validate_backend_id(bad)


def test_unknown_backend_and_bad_names_change_nothing(registry: BackendRegistry) -> None:
    registry.create("keep")
    before = sorted(registry.root.iterdir())
    with pytest.raises(BackendNotFoundError):
        registry.delete("backend_doesnotexist")
    for name in ("", "   ", "x" * 201):
        with pytest.raises(InvalidParamsError):
            registry.create(name)
    assert sorted(registry.root.iterdir()) == before


def test_a_folder_with_a_broken_config_is_skipped_not_fatal(registry: BackendRegistry) -> None:
    good = registry.create("good")
    broken = registry.root / "backend_broken1"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    assert [c.id for c in registry.list()] == [good.id]


def test_ensure_admin_token_provisions_and_keeps_the_file_private(tmp_path: Path) -> None:
    token = ensure_admin_token(tmp_path, "given-token")
    assert token == "given-token"
    assert read_admin_token(tmp_path) == "given-token"
    assert ensure_admin_token(tmp_path) == "given-token"
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600
