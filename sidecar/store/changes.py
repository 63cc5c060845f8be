"""The change bus: committed create/update/delete events fanned out to listeners, in commit order."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterable

import structlog

from sidecar.store.interface import ChangeEvent, ChangeListener

log = structlog.get_logger()


class _Subscription:
    def __init__(self, bus: ChangeBus, listener: ChangeListener) -> None:
        self._bus = bus
        self.listener = listener

    def close(self) -> None:
        self._bus._remove(self)


class ChangeBus:
    def __init__(self) -> None:
        self._subscriptions: list[_Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def has_listeners(self) -> bool:
        return bool(self._subscriptions)

    def subscribe(self, listener: ChangeListener) -> _Subscription:
        subscription = _Subscription(self, listener)
        self._subscriptions.append(subscription)
        return subscription

    def _remove(self, subscription: _Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def emit(self, events: Iterable[ChangeEvent]) -> None:
        """Deliver synchronously to plain listeners; coroutine listeners run as tasks (errors are logged)."""
        if not self._subscriptions:  # a batch of thousands of rows and nobody listening: common
            return
        for event in events:
            for subscription in list(self._subscriptions):
                try:
                    outcome = subscription.listener(event)
                except Exception:
                    log.exception("store.change_listener_failed", collection=event.class_name)
                    continue
                if inspect.isawaitable(outcome):
                    task = asyncio.ensure_future(self._guard(outcome, event))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)

    async def _guard(self, outcome: object, event: ChangeEvent) -> None:
        try:
            await outcome  # type: ignore[misc]
        except Exception:
            log.exception("store.change_listener_failed", collection=event.class_name)

    async def drain(self) -> None:
        """Wait for coroutine listeners still running (used at close)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
