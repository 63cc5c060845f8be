"""PostgreSQL against SQLite in the same run: create and get-by-id over HTTP at 20 concurrent clients,
one server process each, on a throwaway PostgreSQL cluster (``scripts/pg-test-server``, fsync off as in the
tests: the figure is the store's and the door's cost, not the disk's). Parse Server's figures on this
machine, for comparison: 1,044-1,834 get/s, 1,662-1,804 creates/s.

The servers and the load generator are the ``web`` suite's (``web.py --serve DIR ROWS [DATABASE_URL]``).

``sse_across_replicas``: three ``serve --database-url`` processes on one database; an SSE subscriber on the
third replica, creates one at a time through the first. Each figure is from the create's request leaving
the client to its ``change`` frame reaching the subscriber (so it includes the create itself).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PG_SERVER = ROOT / "scripts" / "pg-test-server"
KINDS = ("create", "get")
CLIENTS = 20
REPLICA_TOKEN = "bench-replica-admin-token-0123456"
REPLICA_APP = "bench-replicas"


def _start_replica(work: Path, name: str, url: str) -> subprocess.Popen[str]:
    args = ["serve", "--data-dir", str(work / name), f"--token={REPLICA_TOKEN}"]
    args.append(f"--backend-id={REPLICA_APP}")
    return subprocess.Popen(
        [sys.executable, "-m", "sidecar", *args, f"--database-url={url}"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NOODL_HOME": str(work / "home")},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


async def _sse_latencies(creator: int, watcher: int, samples: int) -> list[float]:
    """Milliseconds from each create sent to ``creator`` to its change frame on ``watcher``'s stream."""
    admin = {"Authorization": f"Bearer {REPLICA_TOKEN}", "X-Parse-Application-Id": REPLICA_APP}
    arrived: dict[str, float] = {}
    wake = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        create_url = f"http://127.0.0.1:{creator}/classes/Ping"
        async with session.post(create_url, json={"n": -1}, headers=admin) as made:  # the class exists
            assert made.status == 201, await made.text()
        stream = await session.get(
            f"http://127.0.0.1:{watcher}/realtime", headers={**admin, "Accept": "text/event-stream"}
        )
        connected = await _frames(stream).__anext__()
        subscribe = {"clientId": connected["clientId"], "subscriptions": [{"collection": "Ping"}]}
        async with session.post(
            f"http://127.0.0.1:{watcher}/realtime/subscriptions", json=subscribe, headers=admin
        ) as subscribed:
            assert subscribed.status == 200, await subscribed.text()

        async def read() -> None:
            async for data in _frames(stream):
                if "id" in data:
                    arrived[data["id"]] = time.perf_counter()
                    wake.set()

        reader = asyncio.create_task(read())
        latencies: list[float] = []
        try:
            for n in range(samples):
                sent = time.perf_counter()
                async with session.post(create_url, json={"n": n}, headers=admin) as response:
                    object_id = (await response.json())["objectId"]
                while object_id not in arrived:
                    wake.clear()
                    await asyncio.wait_for(wake.wait(), timeout=5)
                latencies.append((arrived[object_id] - sent) * 1000)
                await asyncio.sleep(0.005)
        finally:
            reader.cancel()
            stream.close()
    return latencies


async def _frames(stream: aiohttp.ClientResponse) -> Any:
    """The data of each SSE frame (comment lines and event names skipped)."""
    data: list[str] = []
    async for raw in stream.content:
        line = raw.decode().rstrip("\r\n")
        if line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and data:
            yield json.loads("\n".join(data))
            data = []


def _sse_across_replicas(work: Path, url: str, samples: int) -> dict[str, Any]:
    replicas = [_start_replica(work, name, url) for name in ("a", "b", "c")]
    try:
        ports = []
        for replica in replicas:
            assert replica.stdout is not None
            line = replica.stdout.readline()
            ports.append(int(json.loads(line.split(" ", 1)[1])["port"]))
        latencies = sorted(asyncio.run(_sse_latencies(ports[0], ports[2], samples)))
    finally:
        for replica in replicas:
            replica.terminate()
        for replica in replicas:
            replica.wait(timeout=30)
    return {
        "samples": len(latencies),
        "p50_ms": round(latencies[len(latencies) // 2], 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
        "max_ms": round(latencies[-1], 2),
        "target_p99_ms": 100,
    }


def _web() -> Any:
    spec = importlib.util.spec_from_file_location("bench_web_for_postgres", HERE / "web.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _backend_figures(web: Any, work: Path, rows: int, seconds: int, url: str | None) -> dict[str, Any]:
    command = [sys.executable, str(HERE / "web.py"), "--serve", str(work), str(rows)] + ([url] if url else [])
    server = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    try:
        assert server.stdout is not None
        ready = json.loads(server.stdout.readline())
        return {
            f"{kind}_c{CLIENTS}": web._measure(ready["port"], kind, ready["ids"], CLIENTS, seconds, work)
            for kind in KINDS
        }
    finally:
        server.communicate(b"", timeout=60)


def _fresh_database(url: str) -> str:
    """A schema of its own for the replicas (the web servers' tables are in ``public``)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("CREATE SCHEMA IF NOT EXISTS replicas")
    return f"{url}?search_path=replicas"


def run(quick: bool) -> dict[str, object]:
    rows, seconds = (1_000, 1) if quick else (10_000, 5)
    started = subprocess.run(
        [str(PG_SERVER), "start"], capture_output=True, text=True, check=True, timeout=600
    )
    url, cluster = started.stdout.split()
    web = _web()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-pg-") as temporary:
            work = Path(temporary)
            (work / "sqlite").mkdir()
            (work / "postgres").mkdir()
            figures: dict[str, object] = {
                "rows": rows,
                "seconds_per_run": seconds,
                "sqlite": _backend_figures(web, work / "sqlite", rows, seconds, None),
                "postgres": _backend_figures(web, work / "postgres", rows, seconds, url),
                "sse_across_replicas": _sse_across_replicas(work, _fresh_database(url), 50 if quick else 500),
                "parse_server_reference": {"get_per_s": [1044, 1834], "create_per_s": [1662, 1804]},
            }
            return figures
    finally:
        subprocess.run([str(PG_SERVER), "stop", cluster], capture_output=True, check=False, timeout=120)


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run(quick="--quick" in sys.argv), indent=2) + "\n")
