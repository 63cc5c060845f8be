"""Per-backend packages: ``python/requirements.txt`` installed from the package index into the backend's
own folder over ``python:install`` (with ``$/progress`` and a kept log), then imported by a node."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from sidecar.backends.manager import BackendManager
from sidecar.errors import SidecarError
from sidecar.ipc.handlers import register_python_methods
from tests.channels import Channels, backend_manager
from tests.runtime.graphs import component, conn, export, node, request_node, response_node

# A small pure-Python package from PyPI that the sidecar's own environment does not hold.
PACKAGE = "tabulate"
USES_IT = """
import tabulate
outputs['table'] = tabulate.tabulate([[inputs['name'], 1]], headers=['name', 'n'], tablefmt='github')
outputs['where'] = tabulate.__file__
send_signal('done')
"""


def read(path: str) -> str:
    return Path(path).read_text()


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[BackendManager]:
    async with backend_manager(tmp_path) as managed:
        yield managed


def table_bundle() -> dict[str, object]:
    ports = [{"name": f"out-{o}", "plug": "output", "type": "*"} for o in ("table", "where")]
    ports.append({"name": "out-done", "plug": "output", "type": "signal"})
    fn = node("fn", "PythonFunction", {"script": USES_IT}, ports=ports)
    workflow = component(
        "table",
        [request_node(), fn, response_node()],
        [
            conn("req", "pm-name", "fn", "in-name"),
            conn("req", "receive", "fn", "run"),
            conn("fn", "out-table", "resp", "pm-table"),
            conn("fn", "out-where", "resp", "pm-where"),
            conn("fn", "out-done", "resp", "send"),
        ],
    )
    workflow["metadata"] = {"language": "python"}
    return export(workflow)


@pytest.mark.timeout(240)
async def test_requirements_are_installed_into_the_backend_and_imported_by_its_workers(
    manager: BackendManager,
) -> None:
    with pytest.raises(ModuleNotFoundError):
        __import__(PACKAGE)  # not in the sidecar's environment, before or after
    channels = Channels(register_python_methods, manager, progress_token="install-1")
    backend_id = str(manager.create("Packages")["id"])
    data_dir = manager.registry.data_dir(backend_id)
    (data_dir / "python").mkdir(parents=True)
    (data_dir / "python" / "requirements.txt").write_text(f"{PACKAGE}\n")
    await manager.start(backend_id, ephemeral=False)
    running = manager.running(backend_id, "test")
    assert running.workflows is not None
    running.workflows.deploy("b", table_bundle())

    installed = await channels("python:install", backend_id)

    assert installed["ok"] is True
    assert installed["target"] == str(data_dir / "python-packages")
    assert any(package.startswith(f"{PACKAGE}==") for package in installed["packages"])
    log_text = read(installed["logFile"])
    assert "Successfully installed" in log_text
    assert PACKAGE in log_text
    reports = [params[0]["value"] for method, params in channels.sent if method == "$/progress"]
    assert (reports[0]["kind"], reports[-1]["kind"]) == ("begin", "end")
    assert any(report["kind"] == "report" and report.get("message") for report in reports)  # pip's lines
    assert PACKAGE not in sys.modules

    port = running.port
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"http://127.0.0.1:{port}/functions/table",
            json={"name": "ada"},
            headers={"X-Parse-Application-Id": backend_id},
        )
        answered = json.loads(await response.text())
    assert response.status == 200, answered
    assert answered["result"]["table"].splitlines()[2] == "| ada    |   1 |"
    assert answered["result"]["where"].startswith(str(data_dir / "python-packages"))


async def test_a_failed_install_keeps_the_previous_packages_and_its_log(manager: BackendManager) -> None:
    channels = Channels(register_python_methods, manager)
    backend_id = str(manager.create("Bad")["id"])
    data_dir = manager.registry.data_dir(backend_id)
    (data_dir / "python").mkdir(parents=True)
    (data_dir / "python-packages" / "kept").mkdir(parents=True)
    (data_dir / "python" / "requirements.txt").write_text("this-is-not a valid requirement ===\n")

    installed = await channels("python:install", backend_id)

    assert (installed["ok"], installed["exitCode"] != 0) == (False, True)
    assert (data_dir / "python-packages" / "kept").is_dir()
    assert not (data_dir / "python-packages.new").exists()
    assert "exit status" in read(installed["logFile"])


async def test_installing_without_a_requirements_file_is_a_clear_error(manager: BackendManager) -> None:
    channels = Channels(register_python_methods, manager)
    backend_id = str(manager.create("None")["id"])

    with pytest.raises(SidecarError, match=r"no python/requirements\.txt"):
        await channels("python:install", backend_id)
