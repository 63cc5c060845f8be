"""Database-change triggers: post-commit change events → fires, with the loop guard.

The records store emits an event only after its transaction commits (a rolled-back batch emits nothing),
so a trigger never sees an uncommitted change. A trigger matches when it is enabled, its collection is the
event's, its actions include the event's and its optional ``filter`` (query grammar, evaluated by the
store with master rights) accepts the record.

Loop guard: while ``maxChangeDepth`` db-change fires are in flight, new change events are suppressed and
counted. A function that writes to the collection that triggered it therefore cannot recurse. The
documented trade-off: unrelated writes made while a handler runs are suppressed too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

import structlog

from sidecar.errors import SidecarError
from sidecar.triggers.dispatcher import Dispatcher, FireOutcome, FireRequest
from sidecar.triggers.model import TriggerDef, TriggerType
from sidecar.triggers.payloads import db_change_payload
from sidecar.triggers.ports import ChangeRecord, ChangeSource, Subscription, TriggerKind

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
    ) -> None:
        self._source = source
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

    def on_change(self, event: ChangeRecord) -> None:
        matching = [trigger for trigger in self._triggers() if self._matches(trigger, event)]
        if not matching:
            return
        if self.in_flight >= self._max_depth:
            self.suppressed_count += 1
            for trigger in matching:
                self._on_suppressed(trigger.id)
            log.info("db-change fire suppressed by the loop guard", collection=event.class_name)
            return
        for trigger in matching:
            self._start(trigger, event)

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

    def _start(self, trigger: TriggerDef, event: ChangeRecord) -> None:
        payload = db_change_payload(trigger.id, self._now_iso(), event)
        source = f"db-change {event.action.value} on {event.class_name}"
        fire = FireRequest(trigger, TriggerKind.DB_CHANGE, source, payload)
        self.in_flight += 1
        task = asyncio.get_running_loop().create_task(self._dispatcher.dispatch(fire))
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[FireOutcome]) -> None:
        self._tasks.discard(task)
        self.in_flight -= 1
