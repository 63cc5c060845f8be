"""``noodl-sidecar migrate``: a populated embedded backend is copied into PostgreSQL, and ``serve
--database-url`` then gives the same answers (a record, a user's login and session, the history list)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg

from sidecar.history import ExecutionHistory
from sidecar.history.rows import SearchText, now_ms
from tests.cli.helpers import SIDECAR, sidecar_env
from tests.conftest import PROJECT_ROOT
from tests.history.conftest import NO_RETENTION, execution, seed_history, step
from tests.postgres import new_schema_url

TOKEN = "m" * 32
APP_ID = "migrated-backend"


@contextmanager
def serving(tmp_path: Path, data_dir: Path, url: str | None = None) -> Iterator[int]:
    args = ["serve", "--data-dir", str(data_dir), "--token", TOKEN, "--backend-id", APP_ID]
    if url is not None:
        args += ["--database-url", url]
    env = sidecar_env(tmp_path / "home")
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [*SIDECAR, *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("NODEGX_BACKEND_READY "), line
        ready = json.loads(line.split(" ", 1)[1])
        assert ready["engine"] == ("postgresql" if url else "sqlite3")
        yield int(ready["port"])
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stdout is not None:
            process.stdout.close()


def call(port: int, method: str, path: str, body: Any = None, **headers: str) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json", **headers},
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.loads(response.read())


def upload(port: int, name: str, data: bytes) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/files/{name}",
        data=data,
        method="POST",
        headers={"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": TOKEN, "Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.loads(response.read())


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=15) as response:
        return bytes(response.read())


def master(port: int, method: str, path: str, body: Any = None) -> Any:
    return call(port, method, path, body, **{"X-Parse-Master-Key": TOKEN})


def fans_of(port: int, item_id: str) -> Any:
    """The users in the ``fans`` relation of an Item, as the admin reads them."""
    item = {"__type": "Pointer", "className": "Item", "objectId": item_id}
    where = json.dumps({"$relatedTo": {"object": item, "key": "fans"}})
    return master(port, "GET", "/classes/_User?where=" + urllib.parse.quote(where))


def migrate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SIDECAR, "migrate", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120
    )


async def seed_runs(data_dir: Path) -> None:
    history = await ExecutionHistory.open(
        data_dir, backend_id=APP_ID, backend_name=APP_ID, bus=None, config=NO_RETENTION
    )
    now = now_ms()
    try:
        await seed_history(
            history,
            # Recent runs: the serving backend's retention (30 days) would prune older ones at start.
            execution("exec_1", workflow="hello", started_at=now - 2_000),
            execution(
                "exec_2", workflow="hello", status="error", started_at=now - 1_000, error_message="boom"
            ),
            steps=(step("exec_1", 0, "cond-1"), step("exec_1", 1, "fn-2"), step("exec_2", 0, "cond-1")),
        )
        assert history.writer is not None
        history.writer.submit_search(SearchText("exec_2", "boom"))  # as the recorder files a finished run
        await history.writer.flush()
    finally:
        await history.close()


async def _unfinish(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("UPDATE noodl_migrations SET finished_at = NULL")
    finally:
        await connection.close()


def test_a_populated_backend_is_served_the_same_from_postgres(tmp_path: Path, pg_server: str) -> None:
    data_dir = tmp_path / "backend"
    with serving(tmp_path, data_dir) as port:
        user = call(
            port, "POST", "/users", {"username": "ada", "password": "lovelace-1815", "email": "a@x.io"}
        )
        item = master(
            port,
            "POST",
            "/classes/Item",
            {
                "name": "first",
                "n": 2.5,
                "tags": ["a", "b"],
                "when": {"__type": "Date", "iso": "2026-01-02T03:04:05.678Z"},
                "owner": {"__type": "Pointer", "className": "_User", "objectId": user["objectId"]},
                "ACL": {user["objectId"]: {"read": True, "write": True}},
            },
        )
        master(
            port,
            "PUT",
            f"/classes/Item/{item['objectId']}",
            {
                "fans": {
                    "__op": "AddRelation",
                    "objects": [{"__type": "Pointer", "className": "_User", "objectId": user["objectId"]}],
                }
            },
        )
        master(
            port,
            "POST",
            "/roles",
            {
                "name": "editors",
                "ACL": {"*": {"read": True}},
                "users": {
                    "__op": "AddRelation",
                    "objects": [{"__type": "Pointer", "className": "_User", "objectId": user["objectId"]}],
                },
            },
        )
        uploaded = upload(port, "notes.txt", b"kept on disk")
        before = master(port, "GET", f"/classes/Item/{item['objectId']}")
        fans = fans_of(port, item["objectId"])
    asyncio.run(seed_runs(data_dir))

    url = new_schema_url(pg_server)
    done = migrate("--to", url, str(data_dir))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["verified"] is True
    tables = {row["table"]: row for row in report["tables"]}
    assert tables["Item"] == {"table": "Item", "source": 1, "target": 1, "ok": True}
    assert tables["_User"]["target"] == 1
    assert tables["_Session"]["target"] == 1  # the sign-up's session
    assert tables["_Role"]["target"] == 1
    assert tables["Item.fans"]["target"] == 1
    assert tables["_Role.users"]["target"] == 1
    assert tables["workflow_executions"]["target"] == 2
    assert tables["execution_steps"]["target"] == 3
    assert "migrate: records" in done.stderr  # progress on stderr
    assert report["files"]["entries"] == [{"name": uploaded["name"], "size": len(b"kept on disk")}]

    # A second run is refused (the target holds this backend), and --resume copies nothing twice.
    again = migrate("--to", url, str(data_dir))
    assert again.returncode == 1
    assert "already migrated" in again.stderr
    # A migration that stopped before its verification (its marker left unfinished) is named as such.
    asyncio.run(_unfinish(url))
    interrupted = migrate("--to", url, str(data_dir))
    assert interrupted.returncode == 1
    assert "was interrupted" in interrupted.stderr
    resumed = migrate("--to", url, "--resume", str(data_dir))
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["tables"] == report["tables"]

    # Served from PostgreSQL with the backend's own directory, its uploaded files are still there.
    with serving(tmp_path, data_dir, url) as port:
        assert download(f"http://127.0.0.1:{port}/files/{APP_ID}/{uploaded['name']}") == b"kept on disk"
    with serving(tmp_path, tmp_path / "replica", url) as port:  # a fresh directory: all from PostgreSQL
        assert master(port, "GET", f"/classes/Item/{item['objectId']}") == before
        assert fans_of(port, item["objectId"]) == fans
        me = call(port, "GET", "/users/me", **{"X-Parse-Session-Token": user["sessionToken"]})
        assert me["username"] == "ada"
        login = call(port, "POST", "/login", {"username": "ada", "password": "lovelace-1815"})
        assert login["objectId"] == user["objectId"]
        # The user's own ACL still lets them read their record with a new session.
        mine = call(
            port,
            "GET",
            f"/classes/Item/{item['objectId']}",
            **{"X-Parse-Session-Token": login["sessionToken"]},
        )
        assert mine["name"] == "first"
        runs = master(port, "GET", "/executions")
        assert [run["id"] for run in runs] == ["exec_2", "exec_1"]
        assert master(port, "GET", "/executions?search=boom")[0]["id"] == "exec_2"
        one = master(port, "GET", "/executions/exec_1")
        assert [s["nodeId"] for s in one["steps"]] == ["cond-1", "fn-2"]


def test_a_target_holding_data_is_refused_unless_resumed(tmp_path: Path, pg_server: str) -> None:
    url = new_schema_url(pg_server)
    other = tmp_path / "other"
    with serving(tmp_path, tmp_path / "pg", url) as port:
        master(port, "POST", "/classes/Kept", {"name": "already here"})
    with serving(tmp_path, other) as port:
        master(port, "POST", "/classes/Item", {"name": "new"})
    refused = migrate("--to", url, str(other))
    assert refused.returncode == 1
    assert "not empty (1 records, 1 classes, 0 executions)" in refused.stderr
    assert refused.stdout == ""
    done = migrate("--to", url, "--resume", str(other))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["resumed"] is True
    with serving(tmp_path, tmp_path / "pg", url) as port:
        assert [r["name"] for r in master(port, "GET", "/classes/Kept")["results"]] == ["already here"]
        assert [r["name"] for r in master(port, "GET", "/classes/Item")["results"]] == ["new"]


def test_no_target_or_no_backend_is_a_usage_error(tmp_path: Path) -> None:
    assert migrate(str(tmp_path)).returncode == 2
    missing = migrate("--to", "postgres://127.0.0.1:1/x", str(tmp_path / "nothing"))
    assert missing.returncode == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = migrate("--to", "postgres://127.0.0.1:1/x", str(empty))
    assert refused.returncode == 1
    assert "no embedded backend" in refused.stderr
