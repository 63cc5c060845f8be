"""HTTP door figures: requests/s with p50/p99 at 1 and 20 concurrent clients for create, get-by-id, an
indexed equality where-query and ``{"n":{"$gt":<random>}}&limit=10`` with and without an index on the field,
over 10,000 rows, and SSE fan-out latency (commit → frame) to 100 subscribers.

The server runs in its own process (this file with ``--serve``); load comes from ``wrk`` when it is
installed, else from an aiohttp load generator in another process (``--load``); the SSE subscribers run
in a third process (``--fanout``). ``run(quick=True)`` uses short runs and few rows for the smoke test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "bench"
MASTER_KEY = "bench-admin-token"
HEADERS = {"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json"}
CREATE_BODY = '{"n":1,"name":"created by the bench","flag":true}'


# ---- the server process ------------------------------------------------------------------------------


async def _serve(data_dir: Path, rows: int, database_url: str | None = None) -> None:
    """``database_url``: serve from a PostgreSQL store (the ``postgres`` suite) instead of SQLite."""
    from sidecar.preload import settle_collector
    from sidecar.store import BatchMethod, BatchOp, CallerContext, SqliteRecordStore
    from sidecar.store.postgres.store import PostgresRecordStore
    from sidecar.web import WebSettings, build_app, start_server

    store: Any = (
        await PostgresRecordStore.open(database_url, pool_size=20)
        if database_url
        else await SqliteRecordStore.open(data_dir / "local.db")
    )
    fields = {
        "n": {"type": "Number"},
        "rank": {"type": "Number"},
        "bucket": {"type": "Number"},
        "name": {"type": "String"},
    }
    indexes = {"bucket_1": {"bucket": 1}, "rank_1": {"rank": 1}}  # rank is n with an index
    await store.create_class("Item", {"fields": fields, "indexes": indexes})
    ids: list[str] = []
    for offset in range(0, rows, 1000):
        ops = [
            BatchOp(BatchMethod.CREATE, "Item", {"n": i, "rank": i, "bucket": i % 1000, "name": f"row-{i}"})
            for i in range(offset, min(rows, offset + 1000))
        ]
        results = await store.batch(ops, CallerContext.master())
        ids.extend(str(result.success["objectId"]) for result in results if result.success)
    settings = WebSettings(app_id=APP_ID, master_key=MASTER_KEY)
    server = await start_server(build_app(store, settings), settings)
    settle_collector()  # the collector as a started sidecar sets it once its services are loaded
    sys.stdout.write(json.dumps({"port": server.port, "ids": ids}) + "\n")
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_reader(sys.stdin.fileno(), stop.set)
    await stop.wait()
    await server.stop()
    await store.close()


# ---- load generation ---------------------------------------------------------------------------------


def _wrk_script(kind: str, ids: list[str]) -> str:
    headers = "\n".join(f'wrk.headers["{key}"] = "{value}"' for key, value in HEADERS.items())
    done = """
function done(summary, latency, requests)
  io.write(string.format('{"requests":%d,"seconds":%f,"errors":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""
    if kind == "create":
        request = f'wrk.method = "POST"\nwrk.path = "/classes/Bench"\nwrk.body = \'{CREATE_BODY}\''
    elif kind == "get":
        listed = ",".join(f'"{object_id}"' for object_id in ids)
        request = f"""local ids = {{{listed}}}
request = function()
  return wrk.format("GET", "/classes/Item/" .. ids[math.random(#ids)])
end"""
    elif kind == "where":
        request = """request = function()
  local where = '%7B%22bucket%22%3A' .. math.random(0, 999) .. '%7D'
  return wrk.format("GET", "/classes/Item?limit=10&where=" .. where)
end"""
    else:  # where_gt (n, no index) or where_gt_indexed (rank: the same values, indexed)
        field = "rank" if kind == "where_gt_indexed" else "n"
        request = f"""request = function()
  local where = '%7B%22{field}%22%3A%7B%22%24gt%22%3A' .. math.random(0, {len(ids) - 1}) .. '%7D%7D'
  return wrk.format("GET", "/classes/Item?limit=10&where=" .. where)
end"""
    return f"{headers}\n{request}\n{done}"


def _path_for(kind: str, ids: list[str], rng: random.Random) -> tuple[str, str]:
    if kind == "create":
        return "POST", "/classes/Bench"
    if kind == "get":
        return "GET", f"/classes/Item/{rng.choice(ids)}"
    if kind in ("where_gt", "where_gt_indexed"):
        field = "rank" if kind == "where_gt_indexed" else "n"
        return "GET", f'/classes/Item?limit=10&where={{"{field}":{{"$gt":{rng.randrange(len(ids))}}}}}'
    return "GET", f'/classes/Item?limit=10&where={{"bucket":{rng.randrange(1000)}}}'


async def _python_load(port: int, kind: str, ids: list[str], clients: int, seconds: float) -> dict[str, Any]:
    import aiohttp

    rng = random.Random(1)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    base = f"http://127.0.0.1:{port}"

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            method, path = _path_for(kind, ids, rng)
            started = time.perf_counter()
            body = CREATE_BODY if method == "POST" else None
            async with session.request(method, base + path, data=body, headers=HEADERS) as response:
                await response.read()
                errors += response.status >= 400
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=clients)
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "errors": errors,
        "p50_us": int(statistics.median(latencies) * 1e6),
        "p99_us": int(latencies[int(len(latencies) * 0.99)] * 1e6),
    }


def _measure(port: int, kind: str, ids: list[str], clients: int, seconds: int, work: Path) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is not None:
        script = work / f"{kind}.lua"
        script.write_text(_wrk_script(kind, ids))
        threads = min(clients, 2)
        command = [wrk, f"-t{threads}", f"-c{clients}", f"-d{seconds}s", "-s", str(script)]
        output = subprocess.run(
            [*command, f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True
        ).stdout
        raw = json.loads(output.strip().splitlines()[-1])
    else:
        spec = json.dumps({"port": port, "kind": kind, "ids": ids, "clients": clients, "seconds": seconds})
        raw = json.loads(_child(["--load"], spec))
    return {
        "requests_per_s": round(raw["requests"] / raw["seconds"]),
        "p50_ms": round(raw["p50_us"] / 1000, 3),
        "p99_ms": round(raw["p99_us"] / 1000, 3),
        "errors": raw["errors"],
        "generator": "wrk" if wrk else "aiohttp",
    }


# ---- SSE fan-out -------------------------------------------------------------------------------------


async def _fanout(port: int, subscribers: int, changes: int) -> dict[str, Any]:
    import aiohttp

    base = f"http://127.0.0.1:{port}"
    latencies: list[float] = []
    sent: dict[int, float] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=subscribers + 5)) as session:
        streams = []
        for _ in range(subscribers):
            response = await session.get(
                base + "/realtime",
                headers={"Accept": "text/event-stream", "Authorization": f"Bearer {MASTER_KEY}"},
            )
            client_id = await _connected_id(response)
            await session.post(
                base + "/realtime/subscriptions",
                json={"clientId": client_id, "subscriptions": [{"collection": "Fan"}]},
            )
            streams.append(response)

        async def listen(response: aiohttp.ClientResponse) -> None:
            received = 0
            async for line in response.content:
                if line.startswith(b"data: "):
                    frame = json.loads(line[6:])
                    if "record" in frame:
                        latencies.append(time.perf_counter() - sent[frame["record"]["seq"]])
                        received += 1
                        if received == changes:
                            return

        listeners = [asyncio.create_task(listen(response)) for response in streams]
        for seq in range(changes):
            sent[seq] = time.perf_counter()
            async with session.post(base + "/classes/Fan", json={"seq": seq}, headers=HEADERS) as response:
                await response.read()
            await asyncio.sleep(0.02)
        await asyncio.wait_for(asyncio.gather(*listeners), 30)
        for response in streams:
            response.close()
    latencies.sort()
    return {
        "subscribers": subscribers,
        "changes": changes,
        "frames": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 3),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 3),
    }


async def _connected_id(response: Any) -> str:
    async for line in response.content:
        if line.startswith(b"data: "):
            return str(json.loads(line[6:])["clientId"])
    raise RuntimeError("stream closed before the connected frame")


# ---- orchestration -----------------------------------------------------------------------------------


def _child(mode: list[str], stdin_text: str) -> str:
    command = [sys.executable, str(Path(__file__).resolve()), *mode]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        command, input=stdin_text, capture_output=True, text=True, check=True, env=env
    ).stdout


def run(quick: bool) -> dict[str, object]:
    rows, seconds = (1_000, 1) if quick else (10_000, 5)
    kinds = ("get", "where_gt") if quick else ("create", "get", "where", "where_gt", "where_gt_indexed")
    concurrency = (20,) if quick else (1, 20)
    with tempfile.TemporaryDirectory(prefix="bench-web-") as temporary:
        work = Path(temporary)
        server = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", str(work), str(rows)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            assert server.stdout is not None
            ready = json.loads(server.stdout.readline())
            port, ids = ready["port"], ready["ids"]
            figures: dict[str, object] = {"rows": rows, "seconds_per_run": seconds}
            for kind in kinds:
                for clients in concurrency:
                    figures[f"{kind}_c{clients}"] = _measure(port, kind, ids, clients, seconds, work)
            spec = json.dumps(
                {"port": port, "subscribers": 10 if quick else 100, "changes": 5 if quick else 50}
            )
            figures["sse_fanout"] = json.loads(_child(["--fanout"], spec))
            return figures
        finally:
            server.communicate(b"", timeout=30)


def _main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", nargs="+", metavar="DIR ROWS [DATABASE_URL]")
    parser.add_argument("--load", action="store_true")
    parser.add_argument("--fanout", action="store_true")
    args = parser.parse_args()
    if args.serve:
        url = args.serve[2] if len(args.serve) > 2 else None
        asyncio.run(_serve(Path(args.serve[0]), int(args.serve[1]), url))
    elif args.load:
        spec = json.loads(sys.stdin.read())
        result = asyncio.run(
            _python_load(spec["port"], spec["kind"], spec["ids"], spec["clients"], spec["seconds"])
        )
        sys.stdout.write(json.dumps(result) + "\n")
    elif args.fanout:
        spec = json.loads(sys.stdin.read())
        sys.stdout.write(
            json.dumps(asyncio.run(_fanout(spec["port"], spec["subscribers"], spec["changes"]))) + "\n"
        )
    else:
        sys.stdout.write(json.dumps(run(quick=True), indent=2) + "\n")


if __name__ == "__main__":
    _main()
