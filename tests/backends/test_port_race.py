"""Two sidecars on one machine (two editor windows) can pick the same free port for new backends: the
second ``backend:start`` then finds it taken. A port the sidecar chose moves to a free one, is kept in
config.json and reported in the start result; a port the user chose still fails, clearly."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.backends.backend import PortInUseError
from sidecar.backends.manager import BackendManager
from sidecar.backends.registry import BackendRegistry


def _manager(root: Path) -> BackendManager:
    return BackendManager(BackendRegistry(root), lambda _change: None)


@pytest.fixture
def holder() -> Iterator[socket.socket]:
    """A listening socket standing for the other window's backend."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


def _set_port(root: Path, backend_id: str, port: int, *, also_auto: bool) -> None:
    folder = root / backend_id
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    (folder / "config.json").write_text(json.dumps({**config, "port": port}), encoding="utf-8")
    if also_auto:
        (folder / "auto-port.json").write_text(json.dumps({"port": port}), encoding="utf-8")


async def test_two_sidecars_that_picked_the_same_port_both_start(tmp_path: Path) -> None:
    first, second = _manager(tmp_path / "window-1"), _manager(tmp_path / "window-2")
    one = str(first.create("One")["id"])
    two = str(second.create("Two")["id"])
    # Each registry saw the other's port as free when it picked (neither backend was running yet).
    port = int(first.get(one)["port"])  # type: ignore[index]
    _set_port(tmp_path / "window-2", two, port, also_auto=True)
    try:
        assert (await first.start(one))["port"] == port
        started = await second.start(two)
        assert started["running"] is True
        assert started["portTaken"] == port
        moved = started["port"]
        assert moved != port
        assert started["endpoint"] == f"http://127.0.0.1:{moved}"
        assert second.get(two)["port"] == moved  # type: ignore[index]
        config = json.loads((tmp_path / "window-2" / two / "config.json").read_text(encoding="utf-8"))
        assert config["port"] == moved
        await second.stop(two)
        again = await second.start(two)  # the moved port stays the sidecar's own choice
        assert again["port"] == moved
        assert "portTaken" not in again
    finally:
        await first.stop_all()
        await second.stop_all()


async def test_a_port_the_user_chose_still_fails_clearly(tmp_path: Path, holder: socket.socket) -> None:
    manager = _manager(tmp_path)
    backend_id = str(manager.create("Mine")["id"])
    taken = holder.getsockname()[1]
    _set_port(tmp_path, backend_id, taken, also_auto=False)  # edited by hand in config.json
    with pytest.raises(PortInUseError, match=f"cannot listen on 127.0.0.1:{taken}"):
        await manager.start(backend_id)
    assert manager.get(backend_id)["port"] == taken  # type: ignore[index]
    assert manager.status(backend_id)["running"] is False


async def test_a_backend_from_before_the_auto_port_file_keeps_its_port(
    tmp_path: Path, holder: socket.socket
) -> None:
    manager = _manager(tmp_path)
    backend_id = str(manager.create("Old")["id"])
    (tmp_path / backend_id / "auto-port.json").unlink()
    taken = holder.getsockname()[1]
    _set_port(tmp_path, backend_id, taken, also_auto=False)
    with pytest.raises(PortInUseError):
        await manager.start(backend_id)
