"""A started ``serve`` has loaded the door and the store, and none of the subsystems it has not used yet
(``sidecar.lazy``): the JavaScript engine and the graph runtime until a function is deployed or called,
Prometheus until ``/metrics`` is scraped, the credential cipher, deploy, debugging and the Python
workers until first use. What each of them costs at start is what this keeps from coming back; the
start-up figures themselves are measured by ``scripts/bench startup``, never timed here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

NOT_AT_START = (
    "_quickjs",  # the JavaScript engine
    "sidecar.runtime.runtime",
    "sidecar.runtime.library",
    "sidecar.python_runtime",
    "prometheus_client",
    "cryptography",
    "croniter",
    "regex",  # the engine of $regex, with its time limit
    "pydantic",  # serve speaks no IPC; only monitoring.json, when present, is checked with it
    "sidecar.deploy.bundle",
    "sidecar.debugging.service",
)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    data_dir = tmp_path_factory.mktemp("lazy") / "b"
    ran = subprocess.run(
        [sys.executable, "-m", "tests.startup.probe", str(data_dir)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr[-4000:]
    stages: dict[str, list[str]] = json.loads(ran.stdout.strip().splitlines()[-1])
    return {stage: set(modules) for stage, modules in stages.items()}


def _present(modules: set[str], name: str) -> bool:
    return name in modules or any(module.startswith(name + ".") for module in modules)


@pytest.mark.parametrize("stage", ["ready", "used"])
def test_a_started_serve_loads_no_subsystem_it_has_not_used(loaded: dict[str, set[str]], stage: str) -> None:
    assert [name for name in NOT_AT_START if _present(loaded[stage], name)] == []
    assert _present(loaded[stage], "aiohttp.web")
    assert _present(loaded[stage], "sidecar.store")


def test_the_first_scrape_loads_prometheus(loaded: dict[str, set[str]]) -> None:
    assert not _present(loaded["used"], "prometheus_client")
    assert _present(loaded["scraped"], "prometheus_client")
