"""The operations behind ``alerts:*`` (IPC) and ``/admin/alerts/*`` (HTTP): one place, two doors.

Each change validates the rule or channel alone, then the whole configuration it would make (ids unique,
channels named by rules exist), writes ``alerts.json`` and hands the engine the new configuration; a
refused change leaves both as they were.
"""

from __future__ import annotations

from typing import Any

from sidecar.errors import AlertNotFoundError, InvalidAlertConfigError
from sidecar.monitoring.alerts import config as alert_config
from sidecar.monitoring.alerts.config import AlertConfig
from sidecar.monitoring.alerts.engine import AlertEngine

MAX_HISTORY = 1_000


def _commit(engine: AlertEngine, config: AlertConfig) -> None:
    if engine.data_dir is not None:
        alert_config.save(engine.data_dir, config)
    else:
        problems = alert_config.check(config)
        if problems:
            raise InvalidAlertConfigError("the change would make alerts.json invalid", problems)
    engine.replace_config(config)


def get_config(engine: AlertEngine) -> dict[str, Any]:
    return engine.config.to_wire()


def put_rule(engine: AlertEngine, raw: Any) -> dict[str, Any]:
    """Create or replace the rule of the same id."""
    rule = alert_config.parse_rule(raw)
    rules = [existing for existing in engine.config.rules if existing.id != rule.id]
    _commit(engine, AlertConfig(rules=[*rules, rule], channels=engine.config.channels))
    return rule.to_wire()


def delete_rule(engine: AlertEngine, rule_id: str) -> dict[str, Any]:
    rules = [rule for rule in engine.config.rules if rule.id != rule_id]
    if len(rules) == len(engine.config.rules):
        raise AlertNotFoundError("rule", rule_id)
    _commit(engine, AlertConfig(rules=rules, channels=engine.config.channels))
    return {"deleted": True, "id": rule_id}


def put_channel(engine: AlertEngine, raw: Any) -> dict[str, Any]:
    channel = alert_config.parse_channel(raw)
    channels = [existing for existing in engine.config.channels if existing.id != channel.id]
    _commit(engine, AlertConfig(rules=engine.config.rules, channels=[*channels, channel]))
    return channel.to_wire()


def delete_channel(engine: AlertEngine, channel_id: str) -> dict[str, Any]:
    """Refused (with the rules named) while a rule still sends through the channel."""
    channels = [channel for channel in engine.config.channels if channel.id != channel_id]
    if len(channels) == len(engine.config.channels):
        raise AlertNotFoundError("channel", channel_id)
    _commit(engine, AlertConfig(rules=engine.config.rules, channels=channels))
    return {"deleted": True, "id": channel_id}


def list_alerts(engine: AlertEngine, limit: int = 100) -> dict[str, Any]:
    """``{open, history}``: the open alerts, and the newest ``limit`` history entries first."""
    if not 1 <= limit <= MAX_HISTORY:
        raise InvalidAlertConfigError("limit is out of range", [f"limit: 1 … {MAX_HISTORY}"])
    return {"open": engine.open_alerts(), "history": engine.history(limit)}


async def test_send(engine: AlertEngine, channel_id: str) -> dict[str, Any]:
    return await engine.test_send(channel_id)
