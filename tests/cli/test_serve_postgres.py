"""``serve --database-url`` / ``DATABASE_URL``: the records live on PostgreSQL, so replicas with their own
data directories serve the same backend (a create on one is read back on the other)."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.helpers import SIDECAR, sidecar_env
from tests.conftest import PROJECT_ROOT
from tests.postgres import new_schema_url

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
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def replicas(tmp_path: Path, pg_server: str) -> Iterator[list[dict[str, Any]]]:
    """Two ``serve`` processes on one PostgreSQL schema, given ``--database-url`` and ``DATABASE_URL``."""
    url = new_schema_url(pg_server)
    processes = [_start(tmp_path, "a", url), _start(tmp_path, "b", None, env_url=url)]
    try:
        yield [_ready(process) for process in processes]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()


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
