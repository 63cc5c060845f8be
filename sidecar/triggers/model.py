"""Trigger definitions as frozen values, and their ``triggers.json`` wire form.

The wire form is camelCase. Beyond the contract's keys this project adds, all optional:
``schedule.overlapPolicy`` (``allow`` by default, as the shipped backend behaves),
``schedule.catchUpWindowMs`` (only with ``missedFirePolicy: "catch-up"``), ``webhook.responseMode``
(``sync`` waits for the function, ``async`` answers 202 at once), ``dbChange.filter`` (a ``where`` in the
query grammar) and, in ``status``, ``errorCount``, ``lastError`` and ``skippedCount``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
MAX_MAX_BODY_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_CHANGE_DEPTH = 1
FILE_VERSION = 1


class TriggerType(enum.StrEnum):
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    DB_CHANGE = "db-change"

    @property
    def block_key(self) -> str:
        """The name of the type-specific block in a TriggerDef."""
        return {"schedule": "schedule", "webhook": "webhook", "db-change": "dbChange"}[self.value]


class TargetKind(enum.StrEnum):
    FUNCTION = "function"
    WORKFLOW = "workflow"


class MisfirePolicy(enum.StrEnum):
    SKIP = "skip"
    RUN_ONCE_ON_START = "run-once-on-start"
    CATCH_UP = "catch-up"


class OverlapPolicy(enum.StrEnum):
    SKIP = "skip"
    BUFFER_ONE = "buffer-one"
    ALLOW = "allow"


class WebhookScheme(enum.StrEnum):
    HMAC_SHA256 = "hmac-sha256"
    TOKEN = "token"


class ResponseMode(enum.StrEnum):
    SYNC = "sync"
    ASYNC = "async"


@dataclass(frozen=True)
class TargetRef:
    kind: TargetKind
    name: str

    def to_wire(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "name": self.name}


@dataclass(frozen=True)
class ScheduleConfig:
    cron: str
    missed_fire_policy: MisfirePolicy = MisfirePolicy.SKIP
    payload: Mapping[str, Any] | None = None
    overlap_policy: OverlapPolicy = OverlapPolicy.ALLOW
    catch_up_window_ms: int | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"cron": self.cron, "missedFirePolicy": self.missed_fire_policy.value}
        if self.payload is not None:
            wire["payload"] = dict(self.payload)
        if self.overlap_policy is not OverlapPolicy.ALLOW:
            wire["overlapPolicy"] = self.overlap_policy.value
        if self.catch_up_window_ms is not None:
            wire["catchUpWindowMs"] = self.catch_up_window_ms
        return wire


@dataclass(frozen=True)
class WebhookConfig:
    slug: str
    scheme: WebhookScheme = WebhookScheme.HMAC_SHA256
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    response_mode: ResponseMode = ResponseMode.SYNC

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "slug": self.slug,
            "scheme": self.scheme.value,
            "maxBodyBytes": self.max_body_bytes,
        }
        if self.response_mode is not ResponseMode.SYNC:
            wire["responseMode"] = self.response_mode.value
        return wire


@dataclass(frozen=True)
class DbChangeConfig:
    collection: str
    actions: tuple[str, ...]
    filter: Mapping[str, Any] | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"collection": self.collection, "actions": list(self.actions)}
        if self.filter is not None:
            wire["filter"] = dict(self.filter)
        return wire


@dataclass(frozen=True)
class LastResult:
    ok: bool
    at: str
    status_code: int | None = None
    error: str | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"ok": self.ok, "at": self.at}
        if self.status_code is not None:
            wire["statusCode"] = self.status_code
        if self.error is not None:
            wire["error"] = self.error
        return wire


@dataclass(frozen=True)
class TriggerStatus:
    """Registry-owned runtime status, written back into ``triggers.json``."""

    last_fired_at: str | None = None
    next_fire_at: str | None = None
    last_result: LastResult | None = None
    fire_count: int = 0
    error_count: int = 0
    last_error: LastResult | None = None
    skipped_count: int = 0

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "lastFiredAt": self.last_fired_at,
            "nextFireAt": self.next_fire_at,
            "lastResult": self.last_result.to_wire() if self.last_result else None,
            "fireCount": self.fire_count,
            "errorCount": self.error_count,
            "lastError": self.last_error.to_wire() if self.last_error else None,
            "skippedCount": self.skipped_count,
        }
        return wire


@dataclass(frozen=True)
class TriggerDef:
    id: str
    type: TriggerType
    target: TargetRef
    enabled: bool = True
    name: str | None = None
    schedule: ScheduleConfig | None = None
    webhook: WebhookConfig | None = None
    db_change: DbChangeConfig | None = None
    created_at: str = ""
    updated_at: str = ""
    status: TriggerStatus = field(default_factory=TriggerStatus)

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"id": self.id, "type": self.type.value}
        if self.name is not None:
            wire["name"] = self.name
        wire["enabled"] = self.enabled
        wire["target"] = self.target.to_wire()
        block = self.schedule or self.webhook or self.db_change
        if block is not None:
            wire[self.type.block_key] = block.to_wire()
        wire["createdAt"] = self.created_at
        wire["updatedAt"] = self.updated_at
        wire["status"] = self.status.to_wire()
        return wire


@dataclass(frozen=True)
class TriggersFile:
    max_change_depth: int = DEFAULT_MAX_CHANGE_DEPTH
    triggers: tuple[TriggerDef, ...] = ()

    def to_wire(self) -> dict[str, Any]:
        return {
            "version": FILE_VERSION,
            "maxChangeDepth": self.max_change_depth,
            "triggers": [trigger.to_wire() for trigger in self.triggers],
        }
