"""A run's time limit: a timer only for runs that go on past their first step, due at the deadline."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sidecar.runtime import Runtime, make_request
from tests.runtime.graphs import component, conn, export, request_node, response_node, tagged_function


def _echo() -> dict[str, Any]:
    return export(
        component(
            "echo",
            [request_node(params="x"), response_node(params="x")],
            [conn("req", "pm-x", "resp", "pm-x"), conn("req", "receive", "resp", "send")],
        )
    )


def _count_timers(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays of the timers the running loop is asked for from now on (``call_later`` goes
    through ``call_at`` too)."""
    loop = asyncio.get_running_loop()
    delays: list[float] = []
    call_at = loop.call_at

    def at(when: float, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        delays.append(when - loop.time())
        return call_at(when, *args, **kwargs)

    monkeypatch.setattr(loop, "call_at", at)
    return delays


async def test_a_run_answered_in_its_first_step_schedules_no_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = Runtime.from_export(_echo(), timeout_seconds=30.0)
    request = make_request({"x": 1})
    assert (await runtime.run("echo", request)).body == '{"result":{"x":1}}'
    delays = _count_timers(monkeypatch)
    for _ in range(3):  # built and copied scopes alike
        assert (await runtime.run("echo", request)).status_code == 200
    assert delays == []


async def test_a_run_that_waits_still_times_out_at_its_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = Runtime.from_export(
        tagged_function("wait", "await new Promise(() => {});"), timeout_seconds=0.2
    )
    delays = _count_timers(monkeypatch)
    started = asyncio.get_running_loop().time()
    response = await runtime.run("wait", make_request({"tag": 1}))
    elapsed = asyncio.get_running_loop().time() - started
    assert response.status_code == 504
    assert 0.15 <= elapsed < 2.0
    assert len(delays) == 1
    assert 0 < delays[0] <= 0.2
