"""The JSON body a target function receives for each kind of fire.

Legacy keys come first; the canonical ``trigger`` object then overwrites the legacy ``trigger`` string,
whose value survives as ``triggerType``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sidecar.triggers.ports import ChangeRecord

JsonObject = dict[str, Any]


def webhook_payload(
    trigger_id: str, slug: str, fired_at: str, headers: Mapping[str, str], query: Mapping[str, str], body: Any
) -> JsonObject:
    legacy: JsonObject = {
        "trigger": "webhook",
        "triggerId": trigger_id,
        "slug": slug,
        "headers": dict(headers),
        "query": dict(query),
        "body": body,
    }
    canonical = {"type": "webhook", "id": trigger_id, "firedAt": fired_at, "slug": slug}
    return {**legacy, "trigger": canonical, "triggerType": "webhook", "body": body}


def schedule_payload(
    trigger_id: str,
    cron: str,
    fired_at: str,
    body: Mapping[str, Any] | None,
    scheduled_for: str | None = None,
) -> JsonObject:
    """``scheduled_for`` is the cron slot the fire stands for (``trigger.scheduledFor``): a catch-up or a
    fire taken over from a dead replica runs after its slot, and a function can key its work on it."""
    legacy: JsonObject = {"triggerId": trigger_id, "firedAt": fired_at, "cron": cron}
    canonical = {"type": "schedule", "id": trigger_id, "firedAt": fired_at, "cron": cron}
    if scheduled_for is not None:
        canonical["scheduledFor"] = scheduled_for
    return {**legacy, "trigger": canonical, "triggerType": "schedule", "body": dict(body or {})}


def manual_payload(trigger_id: str, fired_at: str, body: Mapping[str, Any]) -> JsonObject:
    legacy: JsonObject = {"trigger": "manual", "triggerId": trigger_id, **body}
    canonical = {"type": "manual", "id": trigger_id, "firedAt": fired_at}
    return {**legacy, "trigger": canonical, "triggerType": "manual", "body": dict(body)}


def db_change_payload(trigger_id: str, fired_at: str, event: ChangeRecord) -> JsonObject:
    legacy: JsonObject = {
        "trigger": "db-change",
        "triggerId": trigger_id,
        "action": event.action.value,
        "collection": event.class_name,
        "id": event.object_id,
        "record": dict(event.record),
    }
    canonical = {
        "type": "db-change",
        "id": trigger_id,
        "firedAt": fired_at,
        "collection": event.class_name,
        "action": event.action.value,
        "recordId": event.object_id,
    }
    return {**legacy, "trigger": canonical, "triggerType": "db-change", "body": {}}


def admin_fire_payload(admin_body: Mapping[str, Any]) -> Mapping[str, Any]:
    """``POST /admin/triggers/:id/fire`` takes ``{payload}`` or the payload itself (``payload ?? body``)."""
    payload = admin_body.get("payload")
    return payload if isinstance(payload, Mapping) else admin_body
