"""``serve --database-url`` / ``DATABASE_URL``: the records live on PostgreSQL, so replicas with their own
data directories serve the same backend (a create on one is read back on the other), and a workflow
deployed, rolled back or removed on one replica is what every replica serves."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import SIDECAR, sidecar_env
from tests.conftest import PROJECT_ROOT
from tests.postgres import new_schema_url
from tests.runtime.graphs import component, conn, export, request_node, response_node

TOKEN = "t" * 32
APP_ID = "shared-backend"


def _start(tmp_path: Path, name: str, url: str | None, env_url: str | None = None) -> subprocess.Popen[str]:
    env = sidecar_env(tmp_path / "home")
    env.pop("DATABASE_URL", None)
    if env_url is not None:
        env["DATABASE_URL"] = env_url
    args = ["serve", "--data-dir", str(tmp_path / name), "--token", TOKEN, "--backend-id", APP_ID]
    if url is not None:
        args += ["--database-url", url]
    return subprocess.Popen(
        [*SIDECAR, *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _ready(process: subprocess.Popen[str]) -> dict[str, Any]:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("NODEGX_BACKEND_READY "), line
    ready: dict[str, Any] = json.loads(line.split(" ", 1)[1])
    return ready


def _call(port: int, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={
            "X-Parse-Application-Id": APP_ID,
            "X-Parse-Master-Key": TOKEN,
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _stop(processes: list[subprocess.Popen[str]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def shared_url(pg_server: str) -> str:
    return new_schema_url(pg_server)


@pytest.fixture
def replicas(tmp_path: Path, shared_url: str) -> Iterator[list[dict[str, Any]]]:
    """Two ``serve`` processes on one PostgreSQL schema, given ``--database-url`` and ``DATABASE_URL``."""
    url = shared_url
    processes = [_start(tmp_path, "a", url), _start(tmp_path, "b", None, env_url=url)]
    try:
        yield [_ready(process) for process in processes]
    finally:
        _stop(processes)


def test_replicas_on_one_database_url_serve_the_same_records(replicas: list[dict[str, Any]]) -> None:
    first, second = replicas
    assert first["engine"] == second["engine"] == "postgresql"
    created = _call(first["port"], "POST", "/classes/Item", {"name": "shared", "n": 2})
    fetched = _call(second["port"], "GET", f"/classes/Item/{created['objectId']}")
    assert fetched["name"] == "shared"
    assert fetched["n"] == 2
    listed = _call(second["port"], "GET", "/classes/Item?where=" + urllib.parse.quote('{"n":{"$gt":1}}'))
    assert [row["objectId"] for row in listed["results"]] == [created["objectId"]]


def test_without_a_database_url_serve_keeps_sqlite(tmp_path: Path) -> None:
    process = _start(tmp_path, "solo", None)
    try:
        assert _ready(process)["engine"] == "sqlite3"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _answering(value: str) -> dict[str, Any]:
    """A bundle whose function ``f`` answers ``{"result": {"v": value}}``."""
    respond = response_node(**{"pm-v": value})
    return export(component("f", [request_node(), respond], [conn("req", "receive", "resp", "send")]))


def _f_answer(port: int) -> Any:
    """What function ``f`` answers on the replica at ``port`` (the error code when it has none)."""
    try:
        return _call(port, "POST", "/functions/f", {})["result"]["v"]
    except urllib.error.HTTPError as error:
        return json.loads(error.read())["code"]


def _eventually(port: int, expected: Any, within: float = 10.0) -> Any:
    deadline = time.monotonic() + within
    seen = _f_answer(port)
    while seen != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        seen = _f_answer(port)
    return seen


def test_a_deploy_on_one_replica_is_served_by_every_replica(
    tmp_path: Path, shared_url: str, replicas: list[dict[str, Any]]
) -> None:
    first, second = replicas
    assert _call(first["port"], "PUT", "/admin/workflows/b", _answering("one"))["success"] is True
    assert _eventually(second["port"], "one") == "one"

    deployed = _call(second["port"], "PUT", "/admin/workflows/b", _answering("two"))
    assert _eventually(first["port"], "two") == "two"
    # Both run the same version of the bundle: the content second deployed.
    for replica in replicas:
        versions = _call(replica["port"], "GET", "/admin/workflows/versions")["versions"]
        assert {v["hash"] for v in versions if v["active"]} == {deployed["version"]["hash"]}

    # A replica started afterwards, with an empty data directory of its own, serves it from its start.
    third_process = _start(tmp_path, "c", shared_url)
    try:
        third = _ready(third_process)
        assert _f_answer(third["port"]) == "two"
        assert _call(first["port"], "DELETE", "/admin/workflows/b")["success"] is True
        assert _eventually(second["port"], "function/not-found") == "function/not-found"
        assert _eventually(third["port"], "function/not-found") == "function/not-found"
    finally:
        _stop([third_process])
