"""Kill -9 under load, the mechanics: a real ``noodl-sidecar serve`` backend on loopback, ``clients``
concurrent clients each calling a 3-node function and creating records over HTTP in a bounded loop, a
SIGKILL at a random moment, a restart on the same data directory, and the checks:

- every record whose create was acknowledged (201 with an objectId) can be read back;
- every function call that was answered (200) has its run in the execution history, finished, or
  marked interrupted. Runs are matched by the unique ``name`` each call sends, which the history keeps
  in the run's scrubbed request (``triggerData.body``).

Then the next cycle loads the restarted process. Used by the ``crash`` suite (20 cycles) and by
``tests/history/test_kill_under_load.py`` (a few short cycles).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sqlite3
import sys
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent.parent
READY = "NODEGX_BACKEND_READY "
BACKEND_ID = "crash_bench"
CLASS_NAME = "CrashItem"
FUNCTION = "five"
MAX_CALLS_PER_CLIENT = 100_000  # a bound on each client's loop; the kill or the deadline comes first


def _export() -> dict[str, Any]:
    """Request → JavaScript Function → Response: the run has steps to record, and answers its name."""

    def port(name: str, plug: str, port_type: str = "*") -> dict[str, Any]:
        return {"name": name, "displayName": name[4:], "plug": plug, "type": port_type, "group": "x"}

    def node(node_id: str, node_type: str, params: dict[str, Any], ports: list[Any]) -> dict[str, Any]:
        return {"id": node_id, "type": node_type, "parameters": params, "ports": ports, "children": []}

    def conn(source: str, source_port: str, target: str, target_port: str) -> dict[str, str]:
        return {"sourceId": source, "sourcePort": source_port, "targetId": target, "targetPort": target_port}

    script = "Outputs.greeting = 'Hi ' + Inputs.name + ' ' + Inputs.n * 2; Outputs.Done();"
    ports = [port("in-name", "input"), port("in-n", "input"), port("out-greeting", "output")]
    ports.append(port("out-Done", "output", "signal"))
    nodes = [
        node("req", "noodl.cloud.request", {"allowNoAuth": True, "params": "name,n"}, []),
        node("fn", "JavaScriptFunction", {"functionScript": script}, ports),
        node("resp", "noodl.cloud.response", {"params": "greeting"}, []),
    ]
    connections = [
        conn("req", "receive", "fn", "run"),
        conn("req", "pm-name", "fn", "in-name"),
        conn("req", "pm-n", "fn", "in-n"),
        conn("fn", "out-greeting", "resp", "pm-greeting"),
        conn("fn", "out-Done", "resp", "send"),
    ]
    component = {"name": f"/#__cloud__/{FUNCTION}", "ports": [], "roots": [], "nodes": nodes}
    component["connections"] = connections
    return {"settings": {}, "metadata": {}, "components": [component]}


@dataclass
class CycleFigures:
    records_acknowledged: int = 0
    records_lost: int = 0
    runs_answered: int = 0
    runs_missing: int = 0
    runs_interrupted: int = 0
    """Answered runs found only as interrupted (should stay 0: the journal has their final rows)."""
    runs_recovered: int = 0
    """Runs the restart restored from the journal (their batch had not been committed): answered ones as
    they answered, started ones as interrupted."""
    interrupted_at_start: int = 0
    """Runs in flight at the kill that the restart marked interrupted (none of them was answered)."""


@dataclass
class Totals:
    cycles: int = 0
    per_cycle: list[dict[str, int]] = field(default_factory=list)

    def add(self, figures: CycleFigures) -> None:
        self.cycles += 1
        self.per_cycle.append(dict(vars(figures)))

    def summary(self) -> dict[str, Any]:
        keys = list(vars(CycleFigures()))
        totals = {key: sum(cycle[key] for cycle in self.per_cycle) for key in keys}
        return {"cycles": self.cycles, **totals, "per_cycle": self.per_cycle}


class Server:
    """One ``serve`` process on ``data_dir``; ``start`` again after a kill."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0

    async def start(self) -> None:
        command = [sys.executable, "-m", "sidecar", "serve", "--data-dir", str(self.data_dir)]
        command += ["--backend-id", BACKEND_ID, "--host", "127.0.0.1", "--log-level", "error"]
        self.process = await asyncio.create_subprocess_exec(
            *command,
            cwd=ROOT,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        line = (await asyncio.wait_for(self.process.stdout.readline(), 30)).decode()
        if not line.startswith(READY):
            raise RuntimeError(f"serve did not start: {line!r}")
        self.port = int(json.loads(line[len(READY) :])["port"])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin_token(self) -> str:
        token: str = json.loads((self.data_dir / "secrets.json").read_text())["adminToken"]
        return token

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()  # SIGKILL
            await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                await self.kill()


@dataclass
class Acknowledged:
    records: list[str] = field(default_factory=list)
    runs: set[str] = field(default_factory=set)


async def _client(
    http: aiohttp.ClientSession, base: str, tag: str, stop: asyncio.Event, seen: Acknowledged
) -> None:
    """Call the function and create a record, alternately, until told to stop or the server is gone."""
    headers = {"X-Parse-Application-Id": BACKEND_ID, "Content-Type": "application/json"}
    for i in range(MAX_CALLS_PER_CLIENT):
        if stop.is_set():
            return
        name = f"{tag}-{i}"
        try:
            if i % 2 == 0:
                body = json.dumps({"name": name, "n": i})
                async with http.post(f"{base}/functions/{FUNCTION}", data=body, headers=headers) as reply:
                    text = await reply.text()
                    if reply.status == 200 and name in text:
                        seen.runs.add(name)
            else:
                body = json.dumps({"tag": name})
                async with http.post(f"{base}/classes/{CLASS_NAME}", data=body, headers=headers) as reply:
                    answer = await reply.json(content_type=None)
                    if reply.status == 201 and isinstance(answer, dict) and "objectId" in answer:
                        seen.records.append(answer["objectId"])
        except (TimeoutError, aiohttp.ClientError, ValueError):
            return  # the kill: what was answered before it is what counts


@contextlib.asynccontextmanager
async def _session() -> AsyncIterator[aiohttp.ClientSession]:
    # Loopback only; one connection per client, so the kill cuts each client's call in flight.
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        yield http


async def _load_then_kill(
    server: Server, cycle: int, clients: int, seconds: float, rng: random.Random
) -> Acknowledged:
    seen = Acknowledged()
    stop = asyncio.Event()
    async with _session() as http:
        tasks = [
            asyncio.ensure_future(_client(http, server.base, f"c{cycle}k{k}", stop, seen))
            for k in range(clients)
        ]
        await asyncio.sleep(seconds * rng.uniform(0.5, 1.0))
        await server.kill()
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    return seen


async def _records_present(http: aiohttp.ClientSession, base: str, ids: list[str]) -> set[str]:
    headers = {"X-Parse-Application-Id": BACKEND_ID}
    found: set[str] = set()
    for start in range(0, len(ids), 100):
        chunk = ids[start : start + 100]
        params = {"where": json.dumps({"objectId": {"$in": chunk}}), "keys": "objectId", "limit": "100"}
        async with http.get(f"{base}/classes/{CLASS_NAME}", params=params, headers=headers) as reply:
            reply.raise_for_status()
            found.update(row["objectId"] for row in (await reply.json())["results"])
    return found


def _history_runs(data_dir: Path, prefix: str) -> dict[str, tuple[str, bool, bool]]:
    """name → (status, interrupted, recovered) for the runs of one cycle, read from the file."""
    with closing(sqlite3.connect(f"file:{data_dir / 'executions.sqlite'}?mode=ro", uri=True)) as db:
        rows = db.execute(
            """SELECT json_extract(trigger_data, '$.body.name'), status,
                      coalesce(json_extract(metadata, '$.interrupted'), 0),
                      coalesce(json_extract(metadata, '$.recovered'), 0)
               FROM workflow_executions WHERE json_extract(trigger_data, '$.body.name') LIKE ?""",
            (prefix + "%",),
        ).fetchall()
    return {
        name: (status, bool(interrupted), bool(recovered)) for name, status, interrupted, recovered in rows
    }


async def _check(server: Server, cycle: int, seen: Acknowledged) -> CycleFigures:
    async with _session() as http:
        present = await _records_present(http, server.base, seen.records)
        async with http.get(f"{server.base}/health") as reply:
            history = (await reply.json()).get("history", {})
    runs = _history_runs(server.data_dir, f"c{cycle}k")
    answered = [runs.get(name) for name in seen.runs]
    return CycleFigures(
        records_acknowledged=len(seen.records),
        records_lost=len(seen.records) - len(present & set(seen.records)),
        runs_answered=len(seen.runs),
        runs_missing=sum(1 for run in answered if run is None),
        runs_interrupted=sum(1 for run in answered if run is not None and run[1]),
        runs_recovered=int(history.get("recoveredAtStart", 0)),
        interrupted_at_start=int(history.get("interruptedAtStart", 0)),
    )


async def _deploy(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.admin_token()}"}
    async with _session() as http:
        url = f"{server.base}/admin/workflows/{FUNCTION}"
        async with http.put(url, json=_export(), headers=headers) as reply:
            reply.raise_for_status()


async def kill_cycles(
    data_dir: Path, *, cycles: int, clients: int = 12, seconds: float = 2.0, seed: int = 15
) -> dict[str, Any]:
    """Start a backend in ``data_dir``, then ``cycles`` times: load it for up to ``seconds``, kill -9,
    restart, check. Returns the totals (``Totals.summary``)."""
    rng = random.Random(seed)
    server = Server(data_dir)
    totals = Totals()
    await server.start()
    try:
        await _deploy(server)
        for cycle in range(cycles):
            seen = await _load_then_kill(server, cycle, clients, seconds, rng)
            await server.start()
            totals.add(await _check(server, cycle, seen))
    finally:
        await server.stop()
    return totals.summary()
