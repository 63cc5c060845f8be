"""Projects linked to backends: one backend per project, kept in config.json across processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sidecar.backends.manager import BackendManager
from sidecar.backends.registry import BackendRegistry
from sidecar.errors import InvalidParamsError
from sidecar.ipc.handlers import register_backend_methods
from tests.channels import Channels


def _manager(root: Path) -> BackendManager:
    return BackendManager(BackendRegistry(root), lambda _change: None)


async def test_links_survive_a_new_process_and_keep_config_keys(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    channels = Channels(register_backend_methods, manager)
    backend_id = str(manager.create("Shop")["id"])
    config_path = tmp_path / backend_id / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config_path.write_text(json.dumps({**config, "editorNote": "kept"}), encoding="utf-8")

    for project in ("project-1", "project-2", "project-1"):  # linking twice is a no-op
        await channels("backend:link-project", backend_id, project)

    again = Channels(register_backend_methods, _manager(tmp_path))
    assert (await again("backend:for-project", "project-2"))["id"] == backend_id
    assert (await again("backend:get", backend_id))["projectIds"] == ["project-1", "project-2"]
    assert json.loads(config_path.read_text(encoding="utf-8"))["editorNote"] == "kept"
    await again("backend:unlink-project", backend_id, "project-1")
    await again("backend:unlink-project", backend_id, "never-linked")
    assert (await channels("backend:get", backend_id))["projectIds"] == ["project-2"]
    assert await channels("backend:for-project", "project-1") is None


async def test_a_project_moves_to_the_backend_it_is_linked_to_last(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    first, second = (str(manager.create(name)["id"]) for name in ("A", "B"))
    manager.link_project(first, "p")
    manager.link_project(second, "p")
    assert manager.for_project("p") == manager.get(second)
    assert manager.get(first) is not None
    assert manager.get(first)["projectIds"] == []  # type: ignore[index]


async def test_bad_ids_are_refused_and_change_nothing(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    backend_id = str(manager.create("A")["id"])
    for bad in ("", "   ", "line\nbreak", "x" * 2000):
        with pytest.raises(InvalidParamsError):
            manager.link_project(backend_id, bad)
    with pytest.raises(Exception, match="Backend not found"):
        manager.link_project("backend_missing", "p")
    assert manager.get(backend_id)["projectIds"] == []  # type: ignore[index]
