"""The trigger service of one backend: registry, scheduler, webhooks, db-change, manual fires.

Composition (the backend's composition root does this once)::

    service = TriggerService.open(
        TriggerServiceConfig(data_dir, backend_id),   # raises TriggerFileError: do not start the backend
        recorder=...,                                 # RejectionRecorder over execution history
        functions=...,                                # FunctionTarget over the graph runtime
        changes=StoreChangeSource(record_store),      # sidecar.triggers.store_source
    )
    await service.start()
    app.add_routes(service.webhooks.routes())         # POST|PUT /hooks/:backendId/:slug
    ...
    await service.close()

The ``backend:*Trigger`` channels and ``/admin/triggers`` routes map one-to-one to the methods below;
results are JSON-ready dicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

import structlog

from sidecar.errors import InvalidCronError, InvalidTriggerError, SidecarError
from sidecar.triggers.clock import Clock, SystemClock
from sidecar.triggers.cron import parse_cron
from sidecar.triggers.dbchange import ChangeRouter
from sidecar.triggers.dispatcher import Dispatcher, FireRequest
from sidecar.triggers.lease import run_leased
from sidecar.triggers.model import MisfirePolicy, TriggerDef, TriggerType
from sidecar.triggers.payloads import manual_payload, schedule_payload
from sidecar.triggers.plan import MisfireConfig
from sidecar.triggers.ports import (
    ChangeClaims,
    ChangeSource,
    FireClaims,
    FunctionTarget,
    RejectionRecorder,
    SecretStore,
    TriggerKind,
    WorkflowTarget,
)
from sidecar.triggers.registry import TriggerRegistry
from sidecar.triggers.scheduler import ScheduledFire, Scheduler
from sidecar.triggers.secrets_file import FileSecretStore
from sidecar.triggers.timefmt import iso, parse_iso
from sidecar.triggers.webhook_handler import WebhookGateway
from sidecar.triggers.zone import local_zone

log = structlog.get_logger()

TRIGGERS_FILE = "triggers.json"
SECRETS_FILE = "secrets.json"
CATCH_UP_SOURCE = "run-once-on-start catch-up"


@dataclass(frozen=True)
class TriggerServiceConfig:
    data_dir: Path
    backend_id: str
    zone: tzinfo | None = None
    """Time zone of cron expressions; ``None`` = the machine's local zone."""


class TriggerService:
    def __init__(
        self,
        config: TriggerServiceConfig,
        registry: TriggerRegistry,
        secrets: SecretStore,
        *,
        recorder: RejectionRecorder,
        functions: FunctionTarget | None,
        workflows: WorkflowTarget | None,
        changes: ChangeSource | None,
        clock: Clock,
        claims: FireClaims | None = None,
        change_claims: ChangeClaims | None = None,
        recovery_interval: float = 30.0,
    ) -> None:
        self.registry = registry
        self._claims = claims
        self._change_claims = change_claims
        """Replicas sharing one backend claim each database-change fire (None: this process fires alone)."""
        """Replicas sharing one backend claim each schedule fire (None: this process fires alone)."""
        self._recovery_interval = recovery_interval
        self._recovery: asyncio.Task[None] | None = None
        self._clock = clock
        self._changes = changes
        self.scheduler = Scheduler(clock, config.zone or local_zone(), self)
        self.dispatcher = Dispatcher(
            status=registry,
            recorder=recorder,
            now_iso=self._now_iso,
            functions=functions,
            workflows=workflows,
            next_fire_at=self._next_fire_iso,
        )
        self.webhooks = WebhookGateway(
            config.backend_id, registry.by_slug, secrets, self.dispatcher, self._now_iso
        )
        self.changes = (
            ChangeRouter(
                changes,
                registry.triggers,
                self.dispatcher,
                registry.max_change_depth,
                self._now_iso,
                registry.record_skip,
                change_claims,
            )
            if changes is not None
            else None
        )

    @classmethod
    def open(
        cls,
        config: TriggerServiceConfig,
        *,
        recorder: RejectionRecorder,
        functions: FunctionTarget | None = None,
        workflows: WorkflowTarget | None = None,
        changes: ChangeSource | None = None,
        clock: Clock | None = None,
        secrets: SecretStore | None = None,
        claims: FireClaims | None = None,
        change_claims: ChangeClaims | None = None,
        recovery_interval: float = 30.0,
    ) -> TriggerService:
        """Load ``triggers.json`` (raises ``TriggerFileError`` naming every bad entry)."""
        clock = clock or SystemClock()
        secrets = secrets or FileSecretStore(config.data_dir / SECRETS_FILE)
        registry = TriggerRegistry.open(config.data_dir / TRIGGERS_FILE, secrets, lambda: iso(clock.now()))
        return cls(
            config,
            registry,
            secrets,
            recorder=recorder,
            functions=functions,
            workflows=workflows,
            changes=changes,
            clock=clock,
            claims=claims,
            change_claims=change_claims,
            recovery_interval=recovery_interval,
        )

    async def start(self) -> None:
        """Arm enabled schedules (applying their misfire policy to slots missed while stopped), listen."""
        for trigger in self.registry.triggers():
            await self._arm(trigger, starting=True)
        self.scheduler.start()
        if self.changes is not None:
            self.changes.start()
        if self._claims is not None or self._change_claims is not None:
            self._recovery = asyncio.create_task(self._recover_abandoned())

    async def close(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
        await self.scheduler.stop()
        if self.changes is not None:
            await self.changes.close()
        await self.webhooks.close()
        self.registry.flush()

    # ---- channels: backend:listTriggers … backend:fireTrigger ----------------------------------------

    def list_triggers(self) -> dict[str, Any]:
        return {
            "triggers": [trigger.to_wire() for trigger in self.registry.triggers()],
            "maxChangeDepth": self.registry.max_change_depth,
            "suppressedCount": self.changes.suppressed_count if self.changes is not None else 0,
        }

    def get_trigger(self, trigger_id: str) -> dict[str, Any]:
        return self.registry.get(trigger_id).to_wire()

    async def create_trigger(self, definition: Mapping[str, Any]) -> dict[str, Any]:
        """``{trigger, secret?}``; the webhook secret is shown this once."""
        self._check_filter(definition)
        result = self.registry.upsert(definition)
        await self._arm(result.trigger, starting=False)
        return result.to_wire()

    async def update_trigger(self, trigger_id: str, definition: Mapping[str, Any]) -> dict[str, Any]:
        self._check_filter(definition)
        result = self.registry.upsert(definition, trigger_id)
        await self._arm(result.trigger, starting=False)
        return result.to_wire()

    async def set_trigger_enabled(self, trigger_id: str, enabled: bool) -> dict[str, Any]:
        trigger = self.registry.set_enabled(trigger_id, enabled)
        await self._arm(trigger, starting=False)
        return {"trigger": self.registry.get(trigger_id).to_wire()}

    def rotate_webhook_secret(self, trigger_id: str) -> dict[str, Any]:
        """``{trigger, secret, secretNote}``: senders holding the old secret are refused from now on."""
        wire = self.registry.rotate_secret(trigger_id).to_wire()
        return {**wire, "secretNote": "Store this now: it is not shown again."}

    def delete_trigger(self, trigger_id: str) -> dict[str, Any]:
        self.registry.delete(trigger_id)
        self.scheduler.disarm(trigger_id)
        return {"deleted": True, "id": trigger_id}

    async def fire_trigger(self, trigger_id: str, payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A manual fire with ``payload`` as the body: ``{ok, statusCode, body}``."""
        trigger = self.registry.get(trigger_id)
        body = dict(payload or {})
        fire = FireRequest(
            trigger, TriggerKind.MANUAL, "manual", manual_payload(trigger.id, self._now_iso(), body)
        )
        outcome = await self.dispatcher.dispatch(fire)
        try:
            answer: Any = json.loads(outcome.body) if outcome.body else None
        except ValueError:
            answer = outcome.body
        return {"ok": outcome.ok, "statusCode": outcome.status_code, "body": answer}

    # ---- ScheduleListener ------------------------------------------------------------------------------

    async def on_fire(self, fire: ScheduledFire) -> None:
        trigger = self.registry.triggers_by_id().get(fire.trigger_id)
        if trigger is None or trigger.schedule is None:
            return
        if self._claims is None:
            await self._run_fire(trigger, fire)
            return
        if not await self._claims.claim(fire.trigger_id, fire.slot):
            return  # another replica runs (or ran) this fire
        claims = self._claims
        await run_leased(
            self._run_fire(trigger, fire),
            renew=lambda: claims.renew(fire.trigger_id, fire.slot),
            finish=lambda: claims.finish(fire.trigger_id, fire.slot),
            lease_seconds=claims.lease_seconds,
            trigger_id=fire.trigger_id,
            slot=fire.slot,
        )

    async def _recover_abandoned(self) -> None:
        """Take over fires whose replica died before or during them (their lease expired unfinished)."""
        while True:
            await asyncio.sleep(self._recovery_interval)
            if self._claims is not None:
                try:
                    for trigger_id, slot in await self._claims.abandoned():
                        if trigger_id in self.registry.triggers_by_id():
                            fire = ScheduledFire(trigger_id, slot, True, self._clock.now())
                            await self.on_fire(fire)
                except Exception:  # the database may be away for a moment; try again next round
                    log.exception("schedule recovery failed")
            if self.changes is not None:
                try:
                    await self.changes.recover()
                except Exception:
                    log.exception("database-change recovery failed")

    async def _run_fire(self, trigger: TriggerDef, fire: ScheduledFire) -> None:
        assert trigger.schedule is not None
        cron = trigger.schedule.cron
        source = CATCH_UP_SOURCE if fire.catch_up else f"schedule {cron}"
        payload = schedule_payload(
            trigger.id, cron, iso(fire.fired_at), trigger.schedule.payload, iso(fire.slot)
        )
        await self.dispatcher.dispatch(FireRequest(trigger, TriggerKind.SCHEDULE, source, payload))

    def on_overlap_skip(self, trigger_id: str) -> None:
        self.registry.record_skip(trigger_id)

    def on_schedule_error(self, trigger_id: str, message: str) -> None:
        self.registry.set_next_fire(trigger_id, None)
        log.warning("schedule disarmed", trigger_id=trigger_id, reason=message)

    # ---- internals -------------------------------------------------------------------------------------

    async def _arm(self, trigger: TriggerDef, *, starting: bool) -> None:
        """Re-arm after every registry edit; a disabled or non-schedule trigger is disarmed."""
        config = trigger.schedule
        if trigger.type is not TriggerType.SCHEDULE or config is None or not trigger.enabled:
            self.scheduler.disarm(trigger.id)
            self.registry.set_next_fire(trigger.id, None)
            return
        misfire = MisfireConfig(config.missed_fire_policy, (config.catch_up_window_ms or 0) / 1000)
        handled_until = None
        if starting and config.missed_fire_policy is not MisfirePolicy.SKIP and trigger.status.last_fired_at:
            handled_until = parse_iso(trigger.status.last_fired_at)
        try:
            spec = parse_cron(config.cron)
            due = self.scheduler.arm(trigger.id, spec, misfire, config.overlap_policy, handled_until)
        except InvalidCronError as error:
            self.scheduler.disarm(trigger.id)
            self.registry.set_next_fire(trigger.id, None)
            reason = f"schedule not armed: {error.message}"
            fire = FireRequest(
                trigger, TriggerKind.SCHEDULE, f"schedule {config.cron}", {"cron": config.cron}
            )
            await self.dispatcher.reject(fire, reason, 400)
            return
        self.registry.set_next_fire(trigger.id, iso(due))

    def _check_filter(self, definition: Mapping[str, Any]) -> None:
        block = definition.get("dbChange") if isinstance(definition, Mapping) else None
        if not isinstance(block, Mapping) or not isinstance(block.get("filter"), Mapping):
            return
        if self._changes is None or not isinstance(block.get("collection"), str):
            return
        try:
            self._changes.check_filter(block["collection"], block["filter"])
        except SidecarError as error:
            raise InvalidTriggerError([f"dbChange.filter: {error.message}"]) from error

    def _next_fire_iso(self, trigger_id: str) -> str | None:
        due = self.scheduler.next_due(trigger_id)
        return iso(due) if due is not None else None

    def _now_iso(self) -> str:
        return iso(self._clock.now())
