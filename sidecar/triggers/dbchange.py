"""Database-change triggers: post-commit change events → fires, with the loop guard.

The records store emits an event only after its transaction commits (a rolled-back batch emits nothing),
so a trigger never sees an uncommitted change. A trigger matches when it is enabled, its collection is the
event's, its actions include the event's and its optional ``filter`` (query grammar, evaluated by the
store with master rights) accepts the record.

Loop guard: while ``maxChangeDepth`` db-change fires are in flight, new change events are suppressed and
counted. A function that writes to the collection that triggered it therefore cannot recurse. The
documented trade-off: unrelated writes made while a handler runs are suppressed too.

Replicas on PostgreSQL (``claims`` given): the store asks :meth:`ChangeRouter.triggers_for` which triggers
match a change and claims their fires in the change's own transaction; the router fires exactly those
claims (holding each lease while its fire runs, finishing the claim afterwards; a suppressed fire's claim is
finished unfired), and :meth:`ChangeRouter.recover` fires the claims a dead replica left behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

import structlog

from sidecar.errors import SidecarError
from sidecar.triggers.dispatcher import Dispatcher, FireOutcome, FireRequest
from sidecar.triggers.lease import run_leased
from sidecar.triggers.model import TriggerDef, TriggerType
from sidecar.triggers.payloads import db_change_payload
from sidecar.triggers.ports import ChangeClaims, ChangeRecord, ChangeSource, Subscription, TriggerKind

log = structlog.get_logger()


class ChangeRouter:
    def __init__(
        self,
        source: ChangeSource,
        triggers: Callable[[], Iterable[TriggerDef]],
        dispatcher: Dispatcher,
        max_depth: int,
        now_iso: Callable[[], str],
        on_suppressed: Callable[[str], None],
        claims: ChangeClaims | None = None,
    ) -> None:
        self._source = source
        self._claims = claims
        self._triggers = triggers
        self._dispatcher = dispatcher
        self._max_depth = max_depth
        self._now_iso = now_iso
        self._on_suppressed = on_suppressed
        self._subscription: Subscription | None = None
        self._tasks: set[asyncio.Task[FireOutcome]] = set()
        self.in_flight = 0
        self.suppressed_count = 0

    def start(self) -> None:
        if self._subscription is None:
            self._subscription = self._source.subscribe(self.on_change)

    async def drain(self) -> None:
        """Wait until no db-change fire is in flight (fires started meanwhile included)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def triggers_for(self, event: ChangeRecord) -> list[str]:
        """The ids of the triggers ``event`` fires (the store claims their fires as it writes)."""
        return [trigger.id for trigger in self._triggers() if self._matches(trigger, event)]

    def on_change(self, event: ChangeRecord) -> None:
        if self._claims is not None:
            self._on_claimed_change(event, self._claims)
            return
        matching = [trigger for trigger in self._triggers() if self._matches(trigger, event)]
        if not matching:
            return
        if self._suppressed(event, [trigger.id for trigger in matching]):
            return
        for trigger in matching:
            self._start(trigger, event)

    def _on_claimed_change(self, event: ChangeRecord, claims: ChangeClaims) -> None:
        if not event.claims:
            return
        if self._suppressed(event, [trigger_id for trigger_id, _ in event.claims]):
            for _, claim_id in event.claims:
                self._track(asyncio.get_running_loop().create_task(self._finish(claims, claim_id)))
            return
        by_id = self._by_id()
        for trigger_id, claim_id in event.claims:
            self._start_claimed(by_id.get(trigger_id), event, claims, claim_id)

    async def recover(self) -> None:
        """Fire the claims whose replica died before or during their fire (their lease expired)."""
        if self._claims is None:
            return
        # A batch at a time, each awaited: a dead replica's backlog is fired now, not a batch a round.
        while batch := await self._claims.abandoned():
            by_id = self._by_id()
            claims = self._claims
            await asyncio.wait(
                [
                    self._start_claimed(by_id.get(change.trigger_id), change, claims, change.claim_id)
                    for change in batch
                ]
            )

    def _suppressed(self, event: ChangeRecord, trigger_ids: list[str]) -> bool:
        if self.in_flight < self._max_depth:
            return False
        self.suppressed_count += 1
        for trigger_id in trigger_ids:
            self._on_suppressed(trigger_id)
        log.info("db-change fire suppressed by the loop guard", collection=event.class_name)
        return True

    def _by_id(self) -> dict[str, TriggerDef]:
        return {trigger.id: trigger for trigger in self._triggers()}

    def _start_claimed(
        self, trigger: TriggerDef | None, event: ChangeRecord, claims: ChangeClaims, claim_id: str
    ) -> asyncio.Task[FireOutcome]:
        if trigger is None or not trigger.enabled or trigger.type is not TriggerType.DB_CHANGE:
            # Deleted or disabled since the change was claimed: the fire is dropped, as it would be here.
            return self._track(asyncio.get_running_loop().create_task(self._finish(claims, claim_id)))
        fire = self._fire_request(trigger, event)
        self.in_flight += 1
        work = run_leased(
            self._dispatcher.dispatch(fire),
            renew=lambda: claims.renew(claim_id),
            finish=lambda: self._finish(claims, claim_id),
            lease_seconds=claims.lease_seconds,
            trigger_id=trigger.id,
            claim_id=claim_id,
        )
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    @staticmethod
    async def _finish(claims: ChangeClaims, claim_id: str) -> FireOutcome:
        try:
            await claims.finish(claim_id)
        except Exception:  # the row stays: another replica fires it again after the lease
            log.exception("finishing a db-change claim failed", claim_id=claim_id)
        return FireOutcome(200, "")

    def _track(self, task: asyncio.Task[FireOutcome]) -> asyncio.Task[FireOutcome]:
        """A task that is not a fire (finishing a claim): awaited by :meth:`drain`, not counted."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _matches(self, trigger: TriggerDef, event: ChangeRecord) -> bool:
        config = trigger.db_change
        if not trigger.enabled or trigger.type is not TriggerType.DB_CHANGE or config is None:
            return False
        if config.collection != event.class_name or event.action.value not in config.actions:
            return False
        if config.filter is None:
            return True
        try:
            return self._source.matches(event.class_name, config.filter, event.record)
        except SidecarError as error:
            log.warning("db-change filter failed", trigger_id=trigger.id, error=error.message)
            return False

    def _fire_request(self, trigger: TriggerDef, event: ChangeRecord) -> FireRequest:
        payload = db_change_payload(trigger.id, self._now_iso(), event)
        source = f"db-change {event.action.value} on {event.class_name}"
        return FireRequest(trigger, TriggerKind.DB_CHANGE, source, payload)

    def _start(self, trigger: TriggerDef, event: ChangeRecord) -> None:
        fire = self._fire_request(trigger, event)
        self.in_flight += 1
        task = asyncio.get_running_loop().create_task(self._dispatcher.dispatch(fire))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[FireOutcome]) -> None:
        self._tasks.discard(task)
        self.in_flight -= 1
