"""Strict validation of ``triggers.json`` and of trigger definitions sent to create/update.

Every problem is collected (never only the first) and named by its place, e.g.
``triggers[2] (trg_abc): webhook.slug must match ^[a-z0-9][a-z0-9-]{0,63}$``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sidecar.triggers.model import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CHANGE_DEPTH,
    FILE_VERSION,
    MAX_MAX_BODY_BYTES,
    DbChangeConfig,
    LastResult,
    MisfirePolicy,
    OverlapPolicy,
    ResponseMode,
    ScheduleConfig,
    TargetKind,
    TargetRef,
    TriggerDef,
    TriggersFile,
    TriggerStatus,
    TriggerType,
    WebhookConfig,
    WebhookScheme,
)

_E = TypeVar("_E", bound=enum.Enum)

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
ID_PATTERN = re.compile(r"^trg_[A-Za-z0-9_-]{12}$")
ACTIONS = ("create", "update", "delete")
_DEF_KEYS = frozenset(
    {
        "id",
        "type",
        "name",
        "enabled",
        "target",
        "schedule",
        "webhook",
        "dbChange",
        "createdAt",
        "updatedAt",
        "status",
    }
)
_BLOCK_KEYS = frozenset({"schedule", "webhook", "dbChange"})
_STATUS_KEYS = frozenset(
    {"lastFiredAt", "nextFireAt", "lastResult", "fireCount", "errorCount", "lastError", "skippedCount"}
)
_RESULT_KEYS = frozenset({"ok", "at", "statusCode", "error"})


@dataclass
class Problems:
    """Collects problems under a location prefix."""

    items: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}" if where else message)


def _object(value: Any, where: str, problems: Problems) -> Mapping[str, Any] | None:
    if not isinstance(value, Mapping):
        problems.add(where, "must be an object")
        return None
    return value


def _keys(value: Mapping[str, Any], allowed: frozenset[str], where: str, problems: Problems) -> None:
    for key in value:
        if key not in allowed:
            problems.add(where, f"unknown key {key!r}")


def _string(value: Any, where: str, problems: Problems, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        problems.add(where, "must be a non-empty string")
        return None
    return value


def _int(value: Any, where: str, problems: Problems, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.add(where, f"must be an integer from {low} to {high}")
        return None
    return value


def _choice(enum_type: type[_E], value: Any, where: str, problems: Problems) -> _E | None:
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in enum_type)
        problems.add(where, f"must be one of {allowed}")
        return None


def _target(value: Any, where: str, problems: Problems) -> TargetRef | None:
    raw = _object(value, where, problems)
    if raw is None:
        return None
    _keys(raw, frozenset({"kind", "name"}), where, problems)
    kind = _choice(TargetKind, raw.get("kind"), f"{where}.kind", problems)
    name = _string(raw.get("name"), f"{where}.name", problems)
    return TargetRef(kind, name) if kind is not None and name is not None else None


def _schedule(raw: Mapping[str, Any], where: str, problems: Problems) -> ScheduleConfig | None:
    _keys(
        raw,
        frozenset({"cron", "missedFirePolicy", "payload", "overlapPolicy", "catchUpWindowMs"}),
        where,
        problems,
    )
    before = len(problems.items)
    cron = _string(raw.get("cron"), f"{where}.cron", problems)
    misfire = _choice(
        MisfirePolicy, raw.get("missedFirePolicy", "skip"), f"{where}.missedFirePolicy", problems
    )
    overlap = _choice(OverlapPolicy, raw.get("overlapPolicy", "allow"), f"{where}.overlapPolicy", problems)
    payload = raw.get("payload")
    if payload is not None and not isinstance(payload, Mapping):
        problems.add(f"{where}.payload", "must be an object")
    window: int | None = None
    if "catchUpWindowMs" in raw:
        window = _int(raw["catchUpWindowMs"], f"{where}.catchUpWindowMs", problems, 1, 366 * 86_400_000)
    if misfire is MisfirePolicy.CATCH_UP and "catchUpWindowMs" not in raw:
        problems.add(f"{where}.catchUpWindowMs", "is required with missedFirePolicy 'catch-up'")
    if misfire is not MisfirePolicy.CATCH_UP and "catchUpWindowMs" in raw:
        problems.add(f"{where}.catchUpWindowMs", "is only allowed with missedFirePolicy 'catch-up'")
    if len(problems.items) > before or cron is None or misfire is None or overlap is None:
        return None
    return ScheduleConfig(cron, misfire, dict(payload) if payload is not None else None, overlap, window)


def _webhook(raw: Mapping[str, Any], where: str, problems: Problems) -> WebhookConfig | None:
    _keys(raw, frozenset({"slug", "scheme", "maxBodyBytes", "responseMode"}), where, problems)
    before = len(problems.items)
    slug = raw.get("slug")
    if not isinstance(slug, str) or not SLUG_PATTERN.match(slug):
        problems.add(f"{where}.slug", f"must match {SLUG_PATTERN.pattern}")
    scheme = _choice(WebhookScheme, raw.get("scheme", "hmac-sha256"), f"{where}.scheme", problems)
    limit = _int(
        raw.get("maxBodyBytes", DEFAULT_MAX_BODY_BYTES),
        f"{where}.maxBodyBytes",
        problems,
        1,
        MAX_MAX_BODY_BYTES,
    )
    mode = _choice(ResponseMode, raw.get("responseMode", "sync"), f"{where}.responseMode", problems)
    if len(problems.items) > before or scheme is None or limit is None or mode is None:
        return None
    assert isinstance(slug, str)
    return WebhookConfig(slug, scheme, limit, mode)


def _db_change(raw: Mapping[str, Any], where: str, problems: Problems) -> DbChangeConfig | None:
    _keys(raw, frozenset({"collection", "actions", "filter"}), where, problems)
    before = len(problems.items)
    collection = _string(raw.get("collection"), f"{where}.collection", problems)
    actions = raw.get("actions")
    if (
        not isinstance(actions, list)
        or not actions
        or any(action not in ACTIONS for action in actions)
        or len(set(actions)) != len(actions)
    ):
        problems.add(f"{where}.actions", "must be a non-empty list of distinct 'create', 'update', 'delete'")
    where_filter = raw.get("filter")
    if where_filter is not None and not isinstance(where_filter, Mapping):
        problems.add(f"{where}.filter", "must be an object (a where clause)")
    if len(problems.items) > before or collection is None:
        return None
    assert isinstance(actions, list)
    ordered = tuple(action for action in ACTIONS if action in actions)
    return DbChangeConfig(collection, ordered, dict(where_filter) if where_filter is not None else None)


def _result(value: Any, where: str, problems: Problems) -> LastResult | None:
    if value is None:
        return None
    raw = _object(value, where, problems)
    if raw is None:
        return None
    _keys(raw, _RESULT_KEYS, where, problems)
    ok, at, code, error = raw.get("ok"), raw.get("at"), raw.get("statusCode"), raw.get("error")
    if not isinstance(ok, bool) or not isinstance(at, str):
        problems.add(where, "needs ok (boolean) and at (ISO string)")
        return None
    if code is not None and (isinstance(code, bool) or not isinstance(code, int)):
        problems.add(f"{where}.statusCode", "must be an integer")
        return None
    if error is not None and not isinstance(error, str):
        problems.add(f"{where}.error", "must be a string")
        return None
    return LastResult(ok, at, code, error)


def _count(raw: Mapping[str, Any], key: str, where: str, problems: Problems) -> int:
    value = _int(raw.get(key, 0), f"{where}.{key}", problems, 0, 2**63 - 1)
    return value or 0


def _optional_iso(raw: Mapping[str, Any], key: str, where: str, problems: Problems) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        problems.add(f"{where}.{key}", "must be an ISO string or null")
        return None
    return value


def parse_status(value: Any, where: str, problems: Problems) -> TriggerStatus:
    if value is None:
        return TriggerStatus()
    raw = _object(value, where, problems)
    if raw is None:
        return TriggerStatus()
    _keys(raw, _STATUS_KEYS, where, problems)
    return TriggerStatus(
        last_fired_at=_optional_iso(raw, "lastFiredAt", where, problems),
        next_fire_at=_optional_iso(raw, "nextFireAt", where, problems),
        last_result=_result(raw.get("lastResult"), f"{where}.lastResult", problems),
        fire_count=_count(raw, "fireCount", where, problems),
        error_count=_count(raw, "errorCount", where, problems),
        last_error=_result(raw.get("lastError"), f"{where}.lastError", problems),
        skipped_count=_count(raw, "skippedCount", where, problems),
    )


def parse_def(
    value: Any,
    where: str,
    problems: Problems,
    *,
    extra_keys: frozenset[str] = frozenset(),
    id_required: bool = True,
) -> TriggerDef | None:
    """Validate one TriggerDef; ``extra_keys`` are tolerated (``secret`` on upsert)."""
    raw = _object(value, where, problems)
    if raw is None:
        return None
    before = len(problems.items)
    _keys(raw, _DEF_KEYS | extra_keys, where, problems)
    trigger_id = raw.get("id", "")
    if (id_required or "id" in raw) and (not isinstance(trigger_id, str) or not ID_PATTERN.match(trigger_id)):
        problems.add(f"{where}.id", "must be 'trg_' followed by 12 base64url characters")
    trigger_type = _choice(TriggerType, raw.get("type"), f"{where}.type", problems)
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.add(f"{where}.enabled", "must be a boolean")
    name = _string(raw.get("name"), f"{where}.name", problems, optional=True)
    target = _target(raw.get("target"), f"{where}.target", problems)
    present = [key for key in ("schedule", "webhook", "dbChange") if key in raw]
    blocks: dict[str, Any] = {}
    if trigger_type is not None and present != [trigger_type.block_key]:
        problems.add(
            where, f"needs exactly one type block, {trigger_type.block_key!r} (found {present or 'none'})"
        )
    elif trigger_type is not None:
        key = trigger_type.block_key
        block = _object(raw[key], f"{where}.{key}", problems)
        if block is not None:
            parse = {"schedule": _schedule, "webhook": _webhook, "dbChange": _db_change}[key]
            blocks[key] = parse(block, f"{where}.{key}", problems)
    status = parse_status(raw.get("status"), f"{where}.status", problems)
    created = raw.get("createdAt", "")
    updated = raw.get("updatedAt", "")
    if not isinstance(created, str) or not isinstance(updated, str):
        problems.add(where, "createdAt and updatedAt must be ISO strings")
    if len(problems.items) > before or trigger_type is None or target is None:
        return None
    return TriggerDef(
        id=str(trigger_id),
        type=trigger_type,
        target=target,
        enabled=bool(enabled),
        name=name,
        schedule=blocks.get("schedule"),
        webhook=blocks.get("webhook"),
        db_change=blocks.get("dbChange"),
        created_at=str(created),
        updated_at=str(updated),
        status=status,
    )


def duplicate_problems(triggers: list[TriggerDef], labels: list[str]) -> list[str]:
    """Duplicate ids or webhook slugs, named by the later entry."""
    problems: list[str] = []
    seen_ids: dict[str, str] = {}
    seen_slugs: dict[str, str] = {}
    for trigger, label in zip(triggers, labels, strict=True):
        if trigger.id in seen_ids:
            problems.append(f"{label}: duplicate id {trigger.id!r} (also {seen_ids[trigger.id]})")
        seen_ids.setdefault(trigger.id, label)
        if trigger.webhook is not None:
            slug = trigger.webhook.slug
            if slug in seen_slugs:
                problems.append(f"{label}: duplicate webhook slug {slug!r} (also {seen_slugs[slug]})")
            seen_slugs.setdefault(slug, label)
    return problems


def parse_file(value: Any) -> tuple[TriggersFile, list[str]]:
    """The whole file; returns the problems instead of raising so the caller names the path."""
    problems = Problems()
    raw = _object(value, "", problems)
    if raw is None:
        return TriggersFile(), problems.items
    _keys(raw, frozenset({"version", "maxChangeDepth", "triggers"}), "", problems)
    if raw.get("version", FILE_VERSION) != FILE_VERSION:
        problems.add("version", f"must be {FILE_VERSION}")
    depth = _int(raw.get("maxChangeDepth", DEFAULT_MAX_CHANGE_DEPTH), "maxChangeDepth", problems, 1, 64)
    entries = raw.get("triggers", [])
    if not isinstance(entries, list):
        problems.add("triggers", "must be a list")
        entries = []
    parsed: list[TriggerDef] = []
    labels: list[str] = []
    for index, entry in enumerate(entries):
        entry_id = entry.get("id") if isinstance(entry, Mapping) else None
        label = f"triggers[{index}]" + (f" ({entry_id})" if isinstance(entry_id, str) else "")
        trigger = parse_def(entry, label, problems)
        if trigger is not None:
            parsed.append(trigger)
            labels.append(label)
    problems.items.extend(duplicate_problems(parsed, labels))
    return TriggersFile(depth or DEFAULT_MAX_CHANGE_DEPTH, tuple(parsed)), problems.items
