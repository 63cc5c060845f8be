"""``execution:cancel`` reaches every kind of pending work and leaves nothing of the run scheduled:
a script's ``setTimeout``, a Retry's backoff, a Python worker busy in a call, a paused test run."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from sidecar.backends.backend import Backend
from tests.channels import Channels
from tests.runtime.graphs import component, conn, export, node, request_node, response_node

LONG_S = 20  # how long the pending work would last if nothing stopped it


def _live_handles() -> set[asyncio.TimerHandle]:
    loop: Any = asyncio.get_running_loop()
    return {handle for handle in loop._scheduled if not handle.cancelled()}


async def _cancel_parked(
    backend: Backend, channels: Channels, name: str, parked: Any
) -> tuple[set[asyncio.TimerHandle], Any]:
    """Start ``name``, wait until ``parked(ctx)`` holds, cancel it; the run's timers still live after."""
    from sidecar.backends import functions

    before = _live_handles()
    call = asyncio.ensure_future(functions.invoke_recorded(backend, name, "{}", {}))
    for _ in range(400):
        ids = backend.running.ids()
        if ids and parked(backend.running._runs[ids[0]].ctx):
            break
        await asyncio.sleep(0.01)
    else:
        pinned = await channels("execution:pin", backend.running.ids()[0])
        raise AssertionError(f"the run never parked: {pinned}")
    execution_id = ids[0]
    far = asyncio.get_running_loop().time() + LONG_S / 2
    assert any(handle.when() > far for handle in _live_handles() - before)  # the long wait is scheduled
    cancelled = await channels("execution:cancel", execution_id)
    response, _ = await asyncio.wait_for(call, 3)
    assert response.status_code == 499
    await asyncio.sleep(0.05)
    left = {handle for handle in _live_handles() - before if handle.when() > far}
    found = await backend.history.get_execution(execution_id)
    assert found is not None
    assert found["status"] == "cancelled"
    return left, cancelled


def _deploy(backend: Backend, name: str, nodes: list[Any], wiring: list[Any]) -> None:
    backend.workflows.deploy(name, export(component(name, [request_node(), response_node(), *nodes], wiring)))


async def test_cancel_clears_a_script_timer(backend: Backend, channels: Channels) -> None:
    script = f"await new Promise((done) => setTimeout(done, {LONG_S * 1000}));\nOutputs.Done();\n"
    ports = [{"name": "out-Done", "plug": "output", "type": "signal"}]
    fn = node("fn", "JavaScriptFunction", {"functionScript": script}, ports=ports)
    _deploy(
        backend, "timer", [fn], [conn("req", "receive", "fn", "run"), conn("fn", "out-Done", "resp", "send")]
    )

    left, cancelled = await _cancel_parked(backend, channels, "timer", lambda ctx: ctx.js_state is not None)

    assert cancelled["nodeId"] == "fn"
    assert left == set()


async def test_cancel_stops_a_retry_waiting_out_its_backoff(backend: Backend, channels: Channels) -> None:
    nodes = [
        node("retry", "Workflow Retry", {"delayMs": LONG_S * 1000, "maxAttempts": 3}),
        node("no", "Workflow IF", {"expression": "false", "data": "down"}),
    ]
    wiring = [
        conn("req", "receive", "retry", "run"),
        conn("retry", "attempt", "no", "run"),
        conn("no", "data", "retry", "error"),
        conn("no", "onFalse", "retry", "attemptFailed"),
        conn("retry", "success", "resp", "send"),
    ]
    _deploy(backend, "backoff", nodes, wiring)

    left, cancelled = await _cancel_parked(backend, channels, "backoff", lambda ctx: bool(ctx._tasks))

    assert cancelled["nodeId"] == "retry"
    assert left == set()


async def test_cancel_kills_a_python_worker_busy_in_the_call(
    backend: Backend, channels: Channels, tmp_path: Path
) -> None:
    pid_file = tmp_path / "worker.pid"
    script = (
        "import os, time\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        f"time.sleep({LONG_S})\n"
        "send_signal('done')\n"
    )
    ports = [{"name": "out-done", "plug": "output", "type": "signal"}]
    fn = node("fn", "PythonFunction", {"script": script}, ports=ports)
    _deploy(
        backend, "py", [fn], [conn("req", "receive", "fn", "run"), conn("fn", "out-done", "resp", "send")]
    )

    def parked(_ctx: Any) -> bool:
        return pid_file.exists() and pid_file.read_text().strip() != ""

    from sidecar.backends import functions

    call = asyncio.ensure_future(functions.invoke_recorded(backend, "py", "{}", {}))
    for _ in range(1000):
        if backend.running.ids() and parked(None):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the worker never started the script")
    pid = int(pid_file.read_text())
    await channels("execution:cancel", backend.running.ids()[0])
    response, _ = await asyncio.wait_for(call, 3)

    assert response.status_code == 499
    for _ in range(300):
        if not _alive(pid):
            break
        await asyncio.sleep(0.01)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())
