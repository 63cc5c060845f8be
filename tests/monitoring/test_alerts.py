"""Alert rules on simulated time: each rule type fires, stays one alert while it holds, reminds and
resolves; notices reach a real webhook receiver (signature checked) and a real SMTP server; a failing
channel is retried, then recorded failed, without holding up the others; rate limits; strict config."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sidecar.errors import InvalidAlertConfigError
from sidecar.monitoring.alerts import AlertEngine, RunFact
from sidecar.monitoring.alerts.config import parse_config
from tests.monitoring.alerting import (
    MINUTE_MS,
    Clock,
    engine_for,
    hook_channel,
    smtp_server,
    webhook_receiver,
)

Step = Callable[[AlertEngine, Clock, dict[str, float]], None]


def run(
    engine: AlertEngine, clock: Clock, workflow: str, *, ok: bool, ms: int = 10, rejected: bool = False
) -> None:
    engine.observe(
        RunFact(
            f"exec_{clock.now}_{workflow}",
            workflow,
            "success" if ok else "error",
            ms,
            clock.now,
            rejected=rejected,
            error=None if ok else "boom",
        )
    )


@dataclass
class Scenario:
    rule: dict[str, Any]
    subject: str
    breach: Step
    clear: Step


def _errors(engine: AlertEngine, clock: Clock, _s: dict[str, float]) -> None:
    for index in range(10):
        run(engine, clock, "orders", ok=index % 2 == 0)  # 50 % errors over 10 runs
    run(engine, clock, "quiet", ok=False)  # one failed run: below minRuns, never alerts


def _later_all_fine(engine: AlertEngine, clock: Clock, _s: dict[str, float]) -> None:
    clock.advance(6 * MINUTE_MS)  # the failing minutes leave the 5-minute window
    for _ in range(10):
        run(engine, clock, "orders", ok=True)


def _one_failure(engine: AlertEngine, clock: Clock, _s: dict[str, float]) -> None:
    run(engine, clock, "pay", ok=False)
    run(engine, clock, "other", ok=False)  # not a watched workflow


def _success(workflow: str) -> Step:
    def step(engine: AlertEngine, clock: Clock, _s: dict[str, float]) -> None:
        run(engine, clock, workflow, ok=True)

    return step


def _streak(engine: AlertEngine, clock: Clock, _s: dict[str, float]) -> None:
    if not engine.open_alerts():
        run(engine, clock, "sync", ok=False)
        run(engine, clock, "sync", ok=False)
        engine.evaluate()
        assert engine.open_alerts() == []  # two in a row: not yet
    run(engine, clock, "sync", ok=False)


def _slow(engine: AlertEngine, clock: Clock, _s: dict[str, float]) -> None:
    for _ in range(20):
        run(engine, clock, "report", ok=True, ms=900)


def _fast_again(engine: AlertEngine, clock: Clock, _s: dict[str, float]) -> None:
    clock.advance(11 * MINUTE_MS)
    for _ in range(20):
        run(engine, clock, "report", ok=True, ms=20)


def _missed(engine: AlertEngine, clock: Clock, schedules: dict[str, float]) -> None:
    schedules["nightly"] = (clock.now - 5 * MINUTE_MS) / 1000  # due 5 minutes ago, grace 2 minutes
    schedules.setdefault("hourly", (clock.now + 60 * MINUTE_MS) / 1000)  # not due yet
    schedules.setdefault("recent", (clock.now - 30_000) / 1000)  # due 30 s ago: within its grace
    engine.evaluate()
    assert "recent" not in {alert["subject"] for alert in engine.open_alerts()}
    schedules["recent"] = (clock.now + 60 * MINUTE_MS) / 1000  # and then it fired


def _fired(engine: AlertEngine, clock: Clock, schedules: dict[str, float]) -> None:
    schedules["nightly"] = (clock.now + 24 * 60 * MINUTE_MS) / 1000  # it fired: next due tomorrow


def _rejections(engine: AlertEngine, clock: Clock, _s: dict[str, float]) -> None:
    for _ in range(4):
        run(engine, clock, "hook", ok=False, rejected=True)


def _rejections_gone(engine: AlertEngine, clock: Clock, _s: dict[str, float]) -> None:
    clock.advance(11 * MINUTE_MS)


SCENARIOS = {
    "errorRate": Scenario(
        {"type": "errorRate", "thresholdPercent": 20, "windowMinutes": 5, "minRuns": 5},
        "orders",
        _errors,
        _later_all_fine,
    ),
    "workflowFailed": Scenario(
        {"type": "workflowFailed", "workflows": ["pay"]}, "pay", _one_failure, _success("pay")
    ),
    "consecutiveFailures": Scenario(
        {"type": "consecutiveFailures", "count": 3}, "sync", _streak, _success("sync")
    ),
    "p95Above": Scenario(
        {"type": "p95Above", "thresholdMs": 500, "windowMinutes": 10, "minRuns": 10},
        "report",
        _slow,
        _fast_again,
    ),
    "scheduleMissed": Scenario({"type": "scheduleMissed", "graceSeconds": 120}, "nightly", _missed, _fired),
    "webhookRejected": Scenario(
        {"type": "webhookRejected", "count": 3, "windowMinutes": 10}, "hook", _rejections, _rejections_gone
    ),
}


@pytest.mark.parametrize("rule_type", list(SCENARIOS))
async def test_each_rule_fires_once_reminds_and_resolves(rule_type: str) -> None:
    scenario = SCENARIOS[rule_type]
    clock = Clock()
    schedules: dict[str, float] = {}
    async with webhook_receiver() as receiver:
        rule = {"id": "r1", "channels": ["hook"], "remindEveryMinutes": 30, **scenario.rule}
        engine = engine_for({"rules": [rule], "channels": [hook_channel(receiver.url)]}, clock)
        engine.schedules = lambda: schedules
        engine.evaluate()
        assert engine.open_alerts() == []

        scenario.breach(engine, clock, schedules)
        engine.evaluate()
        opened = engine.open_alerts()
        assert [(a["ruleId"], a["subject"]) for a in opened] == [("r1", scenario.subject)]

        # Still breaching: the same alert, no second firing notice.
        clock.advance(MINUTE_MS)
        scenario.breach(engine, clock, schedules)
        engine.evaluate()
        assert [a["id"] for a in engine.open_alerts()] == [opened[0]["id"]]

        clock.advance(30 * MINUTE_MS)  # the reminder interval
        if rule_type in ("errorRate", "p95Above", "webhookRejected"):
            scenario.breach(engine, clock, schedules)  # windowed rules: keep the window breaching
        engine.evaluate()
        engine.evaluate()  # twice: one reminder per interval, not per evaluation
        assert engine.open_alerts()[0]["reminders"] == 1

        scenario.clear(engine, clock, schedules)
        engine.evaluate()
        assert engine.open_alerts() == []
        await engine.drain()

    assert receiver.kinds() == ["firing", "reminder", "resolved"]
    assert all(notice.signature_ok for notice in receiver.notices)
    first = receiver.notices[0].body
    assert first["alert"]["id"] == opened[0]["id"]
    assert first["rule"]["type"] == rule_type
    assert first["backendId"] == "backend_alerts"
    history = engine.history()
    assert [entry["kind"] for entry in history] == ["resolved", "reminder", "firing"]
    assert all(entry["deliveries"][0]["status"] == "sent" for entry in history)


async def test_an_email_notice_reaches_a_real_smtp_server_with_its_subject_and_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    async with smtp_server(tmp_path) as (mailbox, port, certificate):
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
        channel = {
            "id": "mail",
            "type": "email",
            "host": "127.0.0.1",
            "port": port,
            "security": "starttls",
            "username": "alerts",
            "passwordCredential": "smtp-password",
            "from": "alerts@example.test",
            "to": ["ops@example.test", "lead@example.test"],
        }
        rule = {"id": "pay-fails", "name": "Payments failing", "type": "workflowFailed", "workflows": ["pay"]}
        engine = engine_for({"rules": [{**rule, "channels": ["mail"]}], "channels": [channel]}, clock)
        run(engine, clock, "pay", ok=False)
        await engine.drain()
        run(engine, clock, "pay", ok=True)
        await engine.drain()
        assert [entry["deliveries"][0]["status"] for entry in engine.history()] == ["sent", "sent"]
        assert mailbox.envelopes[0] == ("alerts@example.test", ["ops@example.test", "lead@example.test"])
        subjects = [message["Subject"] for message in mailbox.messages]
        assert subjects == ["[FIRING] Payments failing: pay", "[RESOLVED] Payments failing: pay"]
        body = mailbox.messages[0].get_payload()
        assert isinstance(body, str)
        assert "Subject: pay" in body
        assert "error: boom" in body
        assert "Backend: backend_alerts" in body


async def test_a_failing_channel_is_retried_then_recorded_failed_without_delaying_the_others() -> None:
    clock = Clock()
    waits: list[float] = []
    release = asyncio.Event()

    async def slow_backoff(seconds: float) -> None:
        waits.append(seconds)
        await release.wait()

    async with webhook_receiver() as broken, webhook_receiver() as healthy:
        broken.failures = 1_000
        channels = [
            {**hook_channel(broken.url), "id": "broken", "retries": 2, "backoffSeconds": 0.5},
            {**hook_channel(healthy.url), "id": "healthy"},
        ]
        rule = {"id": "r", "type": "workflowFailed", "workflows": ["pay"], "channels": ["broken", "healthy"]}
        engine = engine_for({"rules": [rule], "channels": channels}, clock, sleep=slow_backoff)
        run(engine, clock, "pay", ok=False)
        await asyncio.wait_for(healthy.arrived.wait(), 5)
        # The healthy channel was served while the broken one still waits to retry.
        assert healthy.kinds() == ["firing"]
        assert broken.requests == 1
        release.set()
        await engine.drain()
    deliveries = {d["channel"]: d for d in engine.history()[0]["deliveries"]}
    assert deliveries["healthy"]["status"] == "sent"
    assert deliveries["broken"]["status"] == "failed"
    assert deliveries["broken"]["attempts"] == 3
    assert broken.requests == 3
    assert deliveries["broken"]["error"] == "ChannelRefused: HTTP 500"
    assert waits == [0.5, 1.0]  # backoff doubles


async def test_a_retry_that_succeeds_is_sent() -> None:
    clock = Clock()
    async with webhook_receiver() as receiver:
        receiver.failures = 2
        engine = engine_for({"channels": [hook_channel(receiver.url, retries=3)]}, clock)
        result = await engine.test_send("hook")
    assert result == {"channel": "hook", "status": "sent", "attempts": 3, "error": None}
    assert receiver.kinds() == ["test"]
    assert receiver.notices[0].signature_ok


async def test_notices_over_a_channels_rate_limit_are_recorded_not_sent() -> None:
    clock = Clock()
    async with webhook_receiver() as receiver:
        channel = hook_channel(receiver.url, rateLimit={"max": 2, "perMinutes": 60})
        rule = {"id": "r", "type": "workflowFailed", "workflows": ["a", "b", "c"], "channels": ["hook"]}
        engine = engine_for({"rules": [rule], "channels": [channel]}, clock)
        for workflow in ("a", "b", "c"):
            run(engine, clock, workflow, ok=False)
        await engine.drain()
        assert [e["deliveries"][0]["status"] for e in engine.history()] == ["rateLimited", "sent", "sent"]
        clock.advance(61 * MINUTE_MS)  # the window has passed: sending again
        run(engine, clock, "a", ok=True)
        await engine.drain()
    assert engine.history()[0]["deliveries"][0]["status"] == "sent"
    assert receiver.kinds() == ["firing", "firing", "resolved"]


async def test_a_disabled_rule_stays_quiet_and_removing_a_rule_closes_its_alert() -> None:
    clock = Clock()
    async with webhook_receiver() as receiver:
        rules = [
            {
                "id": "off",
                "type": "workflowFailed",
                "workflows": ["pay"],
                "channels": ["hook"],
                "enabled": False,
            },
            {"id": "on", "type": "workflowFailed", "workflows": ["pay"], "channels": ["hook"]},
        ]
        engine = engine_for({"rules": rules, "channels": [hook_channel(receiver.url)]}, clock)
        run(engine, clock, "pay", ok=False)
        assert [a["ruleId"] for a in engine.open_alerts()] == ["on"]
        engine.replace_config(parse_config({"channels": [hook_channel(receiver.url)]}))
        engine.evaluate()
        assert engine.open_alerts() == []
        assert engine.history()[0]["kind"] == "closed"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (
            {"rules": [{"id": "r", "type": "errorRate", "channels": ["x"]}], "channels": []},
            "thresholdPercent",
        ),
        ({"rules": [{"id": "r", "type": "nope", "channels": ["x"]}]}, "rules.0"),
        (
            {"rules": [{"id": "r", "type": "workflowFailed", "workflows": ["a"], "channels": ["x"]}]},
            "no channel",
        ),
        ({"channels": [{"id": "h", "type": "webhook", "url": "ftp://x"}]}, "url"),
        ({"channels": [{"id": "h", "type": "webhook", "url": "http://x", "secret": "inline"}]}, "secret"),
        (
            {"channels": [{"id": "m", "type": "email", "host": "h", "from": "me", "to": ["a@b"]}]},
            "email address",
        ),
        ({"rules": [{"id": "r", "type": "consecutiveFailures", "count": "3", "channels": ["h"]}]}, "count"),
        (
            {
                "channels": [
                    {"id": "h", "type": "webhook", "url": "http://x"},
                    {"id": "h", "type": "webhook", "url": "http://y"},
                ]
            },
            "used twice",
        ),
        ({"rules": [], "extra": 1}, "extra"),
    ],
)
def test_alert_configs_are_validated_strictly(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidAlertConfigError) as caught:
        parse_config(raw)
    assert caught.value.code == 142
    assert any(problem in text for text in caught.value.data["problems"]), caught.value.data
