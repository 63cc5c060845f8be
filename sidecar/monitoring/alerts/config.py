"""``<dataDir>/alerts.json``: a backend's alert rules and notification channels, validated strictly.

::

    {"rules": [
       {"id": "errors", "type": "errorRate", "thresholdPercent": 10, "windowMinutes": 15, "minRuns": 20,
        "channels": ["ops-hook"], "workflows": ["checkout"], "remindEveryMinutes": 60},
       {"id": "pay-fails", "type": "workflowFailed", "workflows": ["pay"], "channels": ["ops-mail"]},
       {"id": "streak", "type": "consecutiveFailures", "count": 3, "channels": ["ops-hook"]},
       {"id": "slow", "type": "p95Above", "thresholdMs": 800, "windowMinutes": 10, "minRuns": 10, ...},
       {"id": "cron", "type": "scheduleMissed", "graceSeconds": 120, "triggers": ["nightly"], ...},
       {"id": "hooks", "type": "webhookRejected", "count": 5, "windowMinutes": 10, ...}],
     "channels": [
       {"id": "ops-hook", "type": "webhook", "url": "https://…", "secretCredential": "ops-hook-secret",
        "retries": 3, "backoffSeconds": 1, "rateLimit": {"max": 20, "perMinutes": 60}},
       {"id": "ops-mail", "type": "email", "host": "smtp.example.com", "port": 587, "security": "starttls",
        "username": "alerts", "passwordCredential": "smtp-password", "from": "alerts@example.com",
        "to": ["ops@example.com"]}]}

Unknown fields, wrong types, duplicate ids and a rule naming a channel that does not exist are refused,
each problem named. Secrets never sit in this file: a webhook's signing secret and an SMTP password are
names of credentials in the backend's credential store (``sidecar.credentials``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from sidecar.errors import InvalidAlertConfigError
from sidecar.jsonfile import read_json, write_json_atomic

FILE_NAME = "alerts.json"
_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_CREDENTIAL = r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, frozen=True)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class _RuleBase(_Strict):
    id: str = Field(pattern=_ID)
    name: str | None = Field(default=None, max_length=200)
    channels: list[str] = Field(min_length=1, max_length=20)
    workflows: list[str] | None = Field(
        default=None, min_length=1, description="Only these workflows (default: every workflow)."
    )
    enabled: bool = True
    remind_every_minutes: int | None = Field(default=60, ge=1, le=10_080, alias="remindEveryMinutes")
    """A reminder while the alert stays open; ``null`` sends none."""

    def watches(self, workflow_id: str) -> bool:
        return self.workflows is None or workflow_id in self.workflows


class ErrorRateRule(_RuleBase):
    type: Literal["errorRate"]
    threshold_percent: float = Field(gt=0, le=100, alias="thresholdPercent")
    window_minutes: int = Field(ge=1, le=1440, alias="windowMinutes")
    min_runs: int = Field(default=10, ge=1, le=1_000_000, alias="minRuns")


class WorkflowFailedRule(_RuleBase):
    type: Literal["workflowFailed"]
    workflows: list[str] = Field(min_length=1, description="The workflows any failure of which alerts.")


class ConsecutiveFailuresRule(_RuleBase):
    type: Literal["consecutiveFailures"]
    count: int = Field(ge=1, le=10_000)


class P95AboveRule(_RuleBase):
    type: Literal["p95Above"]
    threshold_ms: float = Field(gt=0, alias="thresholdMs")
    window_minutes: int = Field(ge=1, le=1440, alias="windowMinutes")
    min_runs: int = Field(default=10, ge=1, le=1_000_000, alias="minRuns")


class ScheduleMissedRule(_RuleBase):
    type: Literal["scheduleMissed"]
    grace_seconds: int = Field(ge=1, le=86_400, alias="graceSeconds")
    triggers: list[str] | None = Field(default=None, min_length=1, description="Default: every schedule.")


class WebhookRejectedRule(_RuleBase):
    type: Literal["webhookRejected"]
    count: int = Field(ge=1, le=1_000_000, description="Alert when rejections in the window exceed this.")
    window_minutes: int = Field(ge=1, le=1440, alias="windowMinutes")


Rule = Annotated[
    ErrorRateRule
    | WorkflowFailedRule
    | ConsecutiveFailuresRule
    | P95AboveRule
    | ScheduleMissedRule
    | WebhookRejectedRule,
    Field(discriminator="type"),
]


class RateLimit(_Strict):
    max: int = Field(default=20, ge=1, le=10_000)
    per_minutes: int = Field(default=60, ge=1, le=1440, alias="perMinutes")


class _ChannelBase(_Strict):
    id: str = Field(pattern=_ID)
    rate_limit: RateLimit = Field(default_factory=RateLimit, alias="rateLimit")
    retries: int = Field(default=3, ge=0, le=10, description="Attempts after the first one.")
    backoff_seconds: float = Field(default=1.0, ge=0, le=600, alias="backoffSeconds")
    """Wait before the first retry; doubled before each next one."""
    timeout_seconds: float = Field(default=10.0, gt=0, le=120, alias="timeoutSeconds")


class WebhookChannel(_ChannelBase):
    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://[^\s]+$", max_length=2000)
    secret_credential: str | None = Field(default=None, pattern=_CREDENTIAL, alias="secretCredential")
    """The credential whose value signs each body (``X-Noodl-Signature: sha256=<hex HMAC>``)."""


class EmailChannel(_ChannelBase):
    type: Literal["email"]
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=587, ge=1, le=65_535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = Field(default=None, min_length=1, max_length=320)
    password_credential: str | None = Field(default=None, pattern=_CREDENTIAL, alias="passwordCredential")
    sender: str = Field(alias="from", max_length=320)
    to: list[str] = Field(min_length=1, max_length=50)

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError("not an email address")
        return value

    @field_validator("to")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        for address in value:
            if not _EMAIL.match(address):
                raise ValueError(f"not an email address: {address!r}")
        return value


Channel = Annotated[WebhookChannel | EmailChannel, Field(discriminator="type")]

_RULE: TypeAdapter[Rule] = TypeAdapter(Rule)
_CHANNEL: TypeAdapter[Channel] = TypeAdapter(Channel)


class AlertConfig(_Strict):
    rules: list[Rule] = Field(default_factory=list)
    channels: list[Channel] = Field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        return {
            "rules": [rule.to_wire() for rule in self.rules],
            "channels": [channel.to_wire() for channel in self.channels],
        }

    def channel(self, channel_id: str) -> WebhookChannel | EmailChannel | None:
        return next((channel for channel in self.channels if channel.id == channel_id), None)


def _problems(error: ValidationError, prefix: str = "") -> list[str]:
    found = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        found.append(f"{prefix}{where or '(whole)'}: {item['msg']}")
    return found


def check(config: AlertConfig) -> list[str]:
    """What pydantic cannot see: unique ids and rules naming existing channels."""
    problems: list[str] = []
    for kind, ids in (("rule", [r.id for r in config.rules]), ("channel", [c.id for c in config.channels])):
        seen: set[str] = set()
        for item_id in ids:
            if item_id in seen:
                problems.append(f"{kind} id {item_id!r} is used twice")
            seen.add(item_id)
    channels = {channel.id for channel in config.channels}
    for rule in config.rules:
        for name in rule.channels:
            if name not in channels:
                problems.append(f"rule {rule.id!r}: no channel {name!r}")
    return problems


def parse_config(raw: Any, source: str = FILE_NAME) -> AlertConfig:
    """A validated configuration, or ``InvalidAlertConfigError`` naming every problem."""
    try:
        config = AlertConfig.model_validate(raw)
    except ValidationError as error:
        raise InvalidAlertConfigError(f"{source} is invalid", _problems(error)) from error
    problems = check(config)
    if problems:
        raise InvalidAlertConfigError(f"{source} is invalid", problems)
    return config


def parse_rule(raw: Any) -> Rule:
    try:
        return _RULE.validate_python(raw)
    except ValidationError as error:
        raise InvalidAlertConfigError("the rule is invalid", _problems(error)) from error


def parse_channel(raw: Any) -> Channel:
    try:
        return _CHANNEL.validate_python(raw)
    except ValidationError as error:
        raise InvalidAlertConfigError("the channel is invalid", _problems(error)) from error


def load(data_dir: Path) -> AlertConfig:
    """``alerts.json`` (an empty configuration when there is none)."""
    try:
        raw = read_json(data_dir / FILE_NAME)
    except (OSError, ValueError) as error:
        raise InvalidAlertConfigError(f"{FILE_NAME} cannot be read", [str(error)]) from error
    return AlertConfig() if raw is None else parse_config(raw)


def save(data_dir: Path, config: AlertConfig) -> None:
    problems = check(config)
    if problems:
        raise InvalidAlertConfigError("the change would make alerts.json invalid", problems)
    write_json_atomic(data_dir / FILE_NAME, config.to_wire(), mode=0o600)
