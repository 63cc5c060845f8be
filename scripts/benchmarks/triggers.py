"""Trigger figures (issue 8): CPU use of 1,000 idle schedules, and webhook → function calls per second
at 20 concurrent clients over real HTTP on 127.0.0.1.

Targets: idle schedules < 1 % of a core; webhooks ≥ 1,500 calls/s with history on. The webhook figure is
taken twice: against a trivial in-process function, and against the real graph runtime (the conformance
``echo`` export) recording every run in ``executions.sqlite`` (skipped with a note when the runtime or
history package cannot be loaded). Client and server share this one process, so the figure is a floor.
``run(quick=True)`` uses short windows so the smoke test finishes in seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from sidecar.triggers import (
    FunctionRequest,
    Rejection,
    SystemClock,
    TriggerInfo,
    TriggerService,
    TriggerServiceConfig,
    parse_cron,
)
from sidecar.triggers.model import OverlapPolicy
from sidecar.triggers.plan import MisfireConfig
from sidecar.triggers.scheduler import ScheduledFire, Scheduler

EXPORTS = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "cloudrunner" / "exports"
BACKEND_ID = "backend_bench"
CLIENTS = 20


class _Quiet:
    """A schedule listener for idle schedules (none is due during the measurement)."""

    fires = 0

    async def on_fire(self, fire: ScheduledFire) -> None:
        self.fires += 1

    def on_overlap_skip(self, trigger_id: str) -> None:
        pass

    def on_schedule_error(self, trigger_id: str, message: str) -> None:
        pass


async def _idle_schedules(count: int, seconds: float) -> dict[str, Any]:
    listener = _Quiet()
    scheduler = Scheduler(SystemClock(), ZoneInfo("UTC"), listener)
    for index in range(count):
        # Distinct yearly expressions: realistic parsing, none due while we watch.
        cron = f"{index % 60} {index % 24} {1 + index % 28} {1 + index % 12} *"
        scheduler.arm(f"trg_{index:012d}", parse_cron(cron), MisfireConfig(), OverlapPolicy.ALLOW)
    scheduler.start()
    await asyncio.sleep(0.2)
    cpu_before, wall_before = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu = time.process_time() - cpu_before
    wall = time.perf_counter() - wall_before
    await scheduler.stop()
    return {
        "schedules": count,
        "window_s": round(wall, 2),
        "cpu_s": round(cpu, 4),
        "cpu_percent_of_core": round(100 * cpu / wall, 3),
        "fires": listener.fires,
    }


class _Discard:
    async def record_rejection(self, rejection: Rejection) -> None:
        raise RuntimeError(f"unexpected rejection: {rejection.reason}")


class _TrivialFunction:
    def has_function(self, name: str) -> bool:
        return name == "echo"

    async def invoke(self, name: str, request: FunctionRequest, trigger: TriggerInfo) -> tuple[int, str]:
        return 200, '{"ok":true}'


async def _runtime_with_history(data_dir: Path) -> tuple[Any, Callable[[], Awaitable[None]]]:
    """The conformance echo function on the real runtime, each run recorded in executions.sqlite."""
    from sidecar.history import ExecutionHistory, RunTrigger
    from sidecar.runtime import Runtime, make_request

    export = json.loads((EXPORTS / "a_echo.export.json").read_text(encoding="utf-8"))
    runtime = Runtime.from_export(export)
    history = await ExecutionHistory.open(data_dir, backend_id=BACKEND_ID, backend_name="Bench", bus=None)

    class RuntimeTarget:
        def has_function(self, name: str) -> bool:
            return bool(runtime.has_function(name))

        async def invoke(self, name: str, request: FunctionRequest, trigger: TriggerInfo) -> tuple[int, str]:
            recorder = history.recorder_for(
                RunTrigger(trigger.kind.value, trigger.source, trigger.trigger_id)
            )
            noodl_request = make_request(request.body, request.headers)
            response = await runtime.run(name, noodl_request, recorder=recorder)
            return response.status_code, response.body

    return RuntimeTarget(), history.close


async def _webhook_rate(target: Any, data_dir: Path, seconds: float) -> dict[str, Any]:
    service = TriggerService.open(
        TriggerServiceConfig(data_dir, BACKEND_ID), recorder=_Discard(), functions=target
    )
    await service.start()
    created = await service.create_trigger(
        {"type": "webhook", "target": {"kind": "function", "name": "echo"}, "webhook": {"slug": "bench"}}
    )
    app = web.Application()
    app.add_routes(service.webhooks.routes())
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    body = json.dumps({"message": "hello noodl", "count": 3}).encode()
    signature = "sha256=" + hmac.new(created["secret"].encode(), body, hashlib.sha256).hexdigest()
    url = f"http://127.0.0.1:{port}/hooks/{BACKEND_ID}/bench"
    headers = {"X-Hub-Signature-256": signature, "Content-Type": "application/json"}
    counts = {"ok": 0, "failed": 0}
    stop_at = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < stop_at:
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                counts["ok" if response.status == 200 else "failed"] += 1

    connector = aiohttp.TCPConnector(limit=CLIENTS)
    started = time.perf_counter()
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(client(session) for _ in range(CLIENTS)))
    elapsed = time.perf_counter() - started
    await runner.cleanup()
    await service.close()
    return {
        "clients": CLIENTS,
        "requests": counts["ok"] + counts["failed"],
        "failed": counts["failed"],
        "calls_per_s": round(counts["ok"] / elapsed, 1),
    }


def _count_executions(path: Path) -> int:
    with closing(sqlite3.connect(path)) as connection:
        return int(connection.execute("SELECT count(*) FROM workflow_executions").fetchone()[0])


async def _all(quick: bool) -> dict[str, object]:
    seconds = 0.5 if quick else 5.0
    figures: dict[str, object] = {
        "idle_schedules": await _idle_schedules(1000, 0.5 if quick else 10.0),
    }
    with tempfile.TemporaryDirectory(prefix="trigger-bench-") as scratch:
        root = Path(scratch)
        (root / "trivial").mkdir()
        figures["webhook_trivial_target"] = await _webhook_rate(_TrivialFunction(), root / "trivial", seconds)
        (root / "history").mkdir()
        try:
            target, close_history = await _runtime_with_history(root / "history")
        except Exception as error:  # another package not importable: report, do not fail the bench
            figures["webhook_runtime_with_history"] = {"skipped": f"{type(error).__name__}: {error}"}
        else:
            try:
                rate = await _webhook_rate(target, root / "history", seconds)
            finally:
                await close_history()
            rate["executions_recorded"] = _count_executions(root / "history" / "executions.sqlite")
            figures["webhook_runtime_with_history"] = rate
    return figures


def run(quick: bool) -> dict[str, object]:
    return asyncio.run(_all(quick))


if __name__ == "__main__":
    import sys

    json.dump(run(quick="--quick" in sys.argv), sys.stderr, indent=2)
