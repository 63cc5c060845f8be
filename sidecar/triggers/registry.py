"""The trigger registry: ``triggers.json`` CRUD, secrets, and per-trigger status.

CRUD writes the file at once (atomic, pretty). Status updates from fires are frequent (a busy webhook),
so they change memory at once and reach the file in one coalesced write within ``STATUS_FLUSH_SECONDS``;
:meth:`TriggerRegistry.close` writes anything pending.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from sidecar.errors import InvalidCronError, InvalidTriggerError, TriggerFileError, TriggerNotFoundError
from sidecar.jsonfile import read_json, write_json_atomic
from sidecar.triggers.cron import next_fire, parse_cron
from sidecar.triggers.model import LastResult, TriggerDef, TriggersFile, TriggerStatus, TriggerType
from sidecar.triggers.ports import SecretStore
from sidecar.triggers.secrets_file import mint_webhook_secret
from sidecar.triggers.timefmt import parse_iso
from sidecar.triggers.validate import Problems, duplicate_problems, parse_def, parse_file

STATUS_FLUSH_SECONDS = 1.0
_UPSERT_EXTRA_KEYS = frozenset({"secret"})


def mint_trigger_id() -> str:
    return "trg_" + base64.urlsafe_b64encode(secrets.token_bytes(9)).decode()


@dataclass(frozen=True)
class UpsertResult:
    trigger: TriggerDef
    secret: str | None = None
    """The webhook secret, only when this upsert minted or set it (the one time it is shown)."""

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"trigger": self.trigger.to_wire()}
        if self.secret is not None:
            wire["secret"] = self.secret
        return wire


class TriggerRegistry:
    def __init__(
        self, path: Path, document: TriggersFile, secrets_store: SecretStore, now_iso: Callable[[], str]
    ) -> None:
        self._path = path
        self._secrets = secrets_store
        self._now_iso = now_iso
        self.max_change_depth = document.max_change_depth
        self._triggers: dict[str, TriggerDef] = {trigger.id: trigger for trigger in document.triggers}
        self._flush_handle: asyncio.TimerHandle | None = None

    @classmethod
    def open(cls, path: Path, secrets_store: SecretStore, now_iso: Callable[[], str]) -> TriggerRegistry:
        """Load the file (absent = empty); any problem raises :class:`TriggerFileError` listing them all."""
        try:
            raw = read_json(path)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise TriggerFileError(str(path), [f"not valid JSON: {error}"]) from error
        document, problems = parse_file(raw if raw is not None else {})
        if problems:
            raise TriggerFileError(str(path), problems)
        return cls(path, document, secrets_store, now_iso)

    # ---- reads -----------------------------------------------------------------------------------------

    def triggers(self) -> list[TriggerDef]:
        return list(self._triggers.values())

    def triggers_by_id(self) -> Mapping[str, TriggerDef]:
        return self._triggers

    def get(self, trigger_id: str) -> TriggerDef:
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise TriggerNotFoundError(trigger_id)
        return trigger

    def by_slug(self, slug: str) -> TriggerDef | None:
        for trigger in self._triggers.values():
            if trigger.webhook is not None and trigger.webhook.slug == slug:
                return trigger
        return None

    # ---- CRUD ------------------------------------------------------------------------------------------

    def upsert(self, raw: Mapping[str, Any], trigger_id: str | None = None) -> UpsertResult:
        """Create (no id) or replace a definition; registry-owned fields in ``raw`` are ignored."""
        if not isinstance(raw, Mapping):
            raise InvalidTriggerError(["definition must be an object"])
        body = {key: value for key, value in raw.items() if key not in ("createdAt", "updatedAt", "status")}
        if trigger_id is not None:
            body["id"] = trigger_id
        existing = self._triggers.get(body["id"]) if isinstance(body.get("id"), str) else None
        if existing is None and trigger_id is not None:
            raise TriggerNotFoundError(trigger_id)
        body.setdefault("id", mint_trigger_id())
        problems = Problems()
        parsed = parse_def(body, "", problems, extra_keys=_UPSERT_EXTRA_KEYS)
        secret = raw.get("secret")
        if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
            problems.add("secret", "must be a string of at least 16 characters")
        if parsed is not None:
            others = [t for t in self._triggers.values() if t.id != parsed.id]
            problems.items.extend(duplicate_problems([*others, parsed], [t.id for t in [*others, parsed]]))
        _check_cron(parsed, parse_iso(self._now_iso()) or 0.0, problems)
        if problems.items or parsed is None:
            raise InvalidTriggerError(problems.items)
        now = self._now_iso()
        trigger = dataclasses.replace(
            parsed,
            created_at=existing.created_at if existing else now,
            updated_at=now,
            status=existing.status if existing else TriggerStatus(),
        )
        shown = self._update_secret(trigger, existing, secret)
        self._triggers[trigger.id] = trigger
        self._write()
        return UpsertResult(trigger, shown)

    def rotate_secret(self, trigger_id: str) -> UpsertResult:
        """A new webhook secret replaces the old one at once (shown this once); only webhooks have one."""
        trigger = self.get(trigger_id)
        if trigger.type is not TriggerType.WEBHOOK:
            raise InvalidTriggerError([f"{trigger_id}: only a webhook trigger has a secret to rotate"])
        minted = mint_webhook_secret()
        self._secrets.set_webhook_secret(trigger_id, minted)
        return UpsertResult(trigger, minted)

    def set_enabled(self, trigger_id: str, enabled: bool) -> TriggerDef:
        trigger = dataclasses.replace(self.get(trigger_id), enabled=enabled, updated_at=self._now_iso())
        self._triggers[trigger_id] = trigger
        self._write()
        return trigger

    def delete(self, trigger_id: str) -> None:
        self.get(trigger_id)
        del self._triggers[trigger_id]
        self._secrets.delete_webhook_secret(trigger_id)
        self._write()

    # ---- status ----------------------------------------------------------------------------------------

    def record_fire(self, trigger_id: str, result: LastResult, next_fire_at: str | None = None) -> None:
        """A fire reached its target (or was rejected): counts, last result, last error."""
        trigger = self._triggers.get(trigger_id)
        if trigger is None:  # deleted while the fire ran
            return
        status = trigger.status
        status = dataclasses.replace(
            status,
            last_fired_at=result.at,
            next_fire_at=next_fire_at if next_fire_at is not None else status.next_fire_at,
            last_result=result,
            fire_count=status.fire_count + 1,
            error_count=status.error_count + (0 if result.ok else 1),
            last_error=status.last_error if result.ok else result,
        )
        self._set_status(trigger, status)

    def record_skip(self, trigger_id: str) -> None:
        trigger = self._triggers.get(trigger_id)
        if trigger is not None:
            self._set_status(
                trigger, dataclasses.replace(trigger.status, skipped_count=trigger.status.skipped_count + 1)
            )

    def set_next_fire(self, trigger_id: str, next_fire_at: str | None) -> None:
        trigger = self._triggers.get(trigger_id)
        if trigger is not None and trigger.status.next_fire_at != next_fire_at:
            self._set_status(trigger, dataclasses.replace(trigger.status, next_fire_at=next_fire_at))

    def flush(self) -> None:
        """Write pending status changes now."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
            self._write()

    # ---- internals -------------------------------------------------------------------------------------

    def _set_status(self, trigger: TriggerDef, status: TriggerStatus) -> None:
        self._triggers[trigger.id] = dataclasses.replace(trigger, status=status)
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(STATUS_FLUSH_SECONDS, self.flush)

    def _update_secret(self, trigger: TriggerDef, existing: TriggerDef | None, secret: Any) -> str | None:
        if trigger.type is not TriggerType.WEBHOOK:
            if existing is not None and existing.type is TriggerType.WEBHOOK:
                self._secrets.delete_webhook_secret(trigger.id)
            return None
        if isinstance(secret, str):
            self._secrets.set_webhook_secret(trigger.id, secret)
            return secret
        if self._secrets.webhook_secret(trigger.id) is None:
            minted = mint_webhook_secret()
            self._secrets.set_webhook_secret(trigger.id, minted)
            return minted
        return None

    def _write(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        document = TriggersFile(self.max_change_depth, tuple(self._triggers.values()))
        write_json_atomic(self._path, document.to_wire())


def _check_cron(trigger: TriggerDef | None, now: float, problems: Problems) -> None:
    """A create/update with a cron that cannot fire is refused up front (a file entry is only rejected
    when armed, as the contract says)."""
    if trigger is None or trigger.schedule is None:
        return
    try:
        next_fire(parse_cron(trigger.schedule.cron), now, UTC)  # zone-independent: never fires at all
    except InvalidCronError as error:
        problems.add("schedule.cron", error.message)
