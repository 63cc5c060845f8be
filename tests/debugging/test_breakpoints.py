"""Step-through of test runs on ``g``: breakpoints, continue, step, cancel, and the timeout while paused."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from sidecar.backends.backend import Backend
from sidecar.errors import ExecutionNotPausedError, InvalidParamsError
from tests.channels import Channels
from tests.debugging.conftest import DEBUG_TIMEOUT_MS

BODY = {"flag": True, "name": "Ada", "items": [{"n": 2}], "waitMs": 0, "failUntil": 1}


async def _next_pause(backend: Backend, seen: int = 0) -> tuple[str, dict[str, Any]]:
    """The running test run's pause once it has paused more than ``seen`` times."""
    for _ in range(500):
        for execution_id in backend.running.ids():
            debug = backend.running.debug_session(execution_id)
            if debug is not None and debug.paused_at is not None and len(debug.pauses) > seen:
                return execution_id, debug.paused_at
        await asyncio.sleep(0.01)
    raise AssertionError("the run never paused")


async def _finish(backend: Backend, channels: Channels, call: asyncio.Task[Any], execution_id: str) -> None:
    """Continue the run at every pause until it answers."""
    while not call.done():
        debug = backend.running.debug_session(execution_id)
        if debug is not None and debug.paused_at is not None:
            await channels("execution:continue", execution_id)
        await asyncio.sleep(0.01)


def _start(channels: Channels, options: dict[str, Any]) -> asyncio.Task[Any]:
    return asyncio.ensure_future(channels("debug:test-run", "backend_debug", "g", {"body": BODY, **options}))


async def test_breakpoints_on_two_nodes_pause_in_sequence_and_report_pending_inputs(
    backend: Backend, channels: Channels
) -> None:
    call = _start(channels, {"breakpoints": ["fn", "loop"]})

    execution_id, first = await _next_pause(backend)
    assert first["nodeId"] == "fn"
    assert first["reason"] == "breakpoint"
    assert first["inputs"]["in-name"] == {"type": "string", "size": 5, "value": "Ada"}
    pinned = await channels("execution:pin", execution_id)
    assert pinned["paused"]["nodeId"] == "fn"
    assert "fn" not in pinned["nodes"]  # paused before it ran
    assert "retry" not in pinned["nodes"]

    await channels("execution:continue", execution_id)
    _, second = await _next_pause(backend, 1)

    assert second["nodeId"] == "loop"
    assert second["inputs"]["items"]["value"] == [{"n": 2}]
    pinned = await channels("execution:pin", execution_id)
    assert pinned["paused"]["nodeId"] == "loop"
    assert not {"loop", "nap", "resp-ok"} & set(pinned["nodes"])
    await _finish(backend, channels, call, execution_id)
    answer = call.result()
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["result"]["greeting"] == "Hello Ada"
    stored = await backend.history.get_execution(execution_id)
    assert stored["metadata"]["breakpoints"] == ["fn", "loop"]
    assert answer["pauses"][:2] == ["fn", "loop"]
    assert set(answer["pauses"]) == {"fn", "loop"}  # the loop stops again when its run signal comes


async def test_step_pauses_before_the_next_node_that_runs(backend: Backend, channels: Channels) -> None:
    call = _start(channels, {"breakpoints": ["cond"]})
    execution_id, first = await _next_pause(backend)
    assert first["nodeId"] == "cond"

    stepped = await channels("execution:step", execution_id)
    assert stepped == {"resumed": True, "executionId": execution_id, "nodeId": "cond", "step": True}
    _, following = await _next_pause(backend, 1)

    assert following["reason"] == "step"
    await _finish(backend, channels, call, execution_id)
    assert call.result()["statusCode"] == 200


async def test_a_paused_run_holds_no_thread_and_its_timeout_does_not_run(
    backend: Backend, channels: Channels
) -> None:
    threads = threading.active_count()
    call = _start(channels, {"breakpoints": ["fn"]})
    execution_id, _ = await _next_pause(backend)

    # Paused for longer than the function's timeout, while other runs of it go on and finish.
    from sidecar.backends import functions

    others = [functions.invoke(backend, "g", json.dumps(BODY), {}) for _ in range(3)]
    answers = await asyncio.gather(*others)
    await asyncio.sleep(DEBUG_TIMEOUT_MS / 1000 + 0.3)
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert threading.active_count() <= threads + 1
    assert not call.done()

    await channels("execution:continue", execution_id)
    answer = await asyncio.wait_for(call, 5)
    assert answer["statusCode"] == 200


async def test_the_timeout_counts_again_after_continue(backend: Backend, channels: Channels) -> None:
    call = _start(channels, {"breakpoints": ["fn"], "body": {**BODY, "waitMs": 5000}})
    execution_id, _ = await _next_pause(backend)
    await asyncio.sleep(0.2)

    await channels("execution:continue", execution_id)
    answer = await asyncio.wait_for(call, 5)

    assert answer["statusCode"] == 504  # the Wait outlasts the timeout once the run goes on


async def test_cancel_reaches_a_paused_run(backend: Backend, channels: Channels) -> None:
    call = _start(channels, {"breakpoints": ["retry"]})
    execution_id, at = await _next_pause(backend)
    assert at["nodeId"] == "retry"

    cancelled = await channels("execution:cancel", execution_id)
    answer = await asyncio.wait_for(call, 5)

    assert cancelled["cancelled"] is True
    assert answer["statusCode"] == 499
    with pytest.raises(ExecutionNotPausedError):
        await channels("execution:continue", execution_id)
    pinned = await channels("execution:pin", execution_id)
    assert pinned["status"] == "cancelled"
    assert "paused" not in pinned


async def test_continue_of_a_run_that_is_not_paused_is_refused(backend: Backend, channels: Channels) -> None:
    answer = await channels("debug:test-run", "backend_debug", "g", {"body": BODY})

    with pytest.raises(ExecutionNotPausedError):
        await channels("execution:continue", answer["executionId"])
    with pytest.raises(ExecutionNotPausedError):
        await channels("execution:step", "exec_nothing")


async def test_unknown_breakpoints_are_refused(channels: Channels) -> None:
    with pytest.raises(InvalidParamsError, match="no such node"):
        await channels("debug:test-run", "backend_debug", "g", {"body": BODY, "breakpoints": ["nope"]})


async def test_a_run_left_paused_is_cancelled_after_the_pause_limit(
    backend: Backend, channels: Channels, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sidecar.debugging import session

    monkeypatch.setattr(session, "PAUSE_LIMIT_SECONDS", 0.3)
    call = _start(channels, {"breakpoints": ["fn"]})
    execution_id, _ = await _next_pause(backend)

    answer = await asyncio.wait_for(call, 5)

    assert answer["statusCode"] == 499
    stored = await backend.history.get_execution(execution_id)
    assert stored["status"] == "cancelled"
    assert stored["metadata"]["cancelledNodeId"] == "fn"
