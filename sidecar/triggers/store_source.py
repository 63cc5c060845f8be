"""Adapts the records store (``sidecar.store``) to :class:`sidecar.triggers.ports.ChangeSource`.

Only the composition root and integration tests import this module, so the trigger core does not load
the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sidecar.store import CallerContext
from sidecar.triggers.ports import ChangeListener, Subscription

_MASTER = CallerContext.master()


class ChangeStore(Protocol):
    """What either records store (SQLite, PostgreSQL) offers a change source."""

    def subscribe(self, listener: Any) -> Any: ...

    def check_filter(self, class_name: str, where: Mapping[str, Any]) -> None: ...

    def matches(
        self, class_name: str, where: Mapping[str, Any], record: Mapping[str, Any], caller: CallerContext
    ) -> bool: ...


class StoreChangeSource:
    def __init__(self, store: ChangeStore) -> None:
        self._store = store

    def subscribe(self, listener: ChangeListener) -> Subscription:
        # A store shared by replicas (PostgreSQL) also delivers other replicas' changes; a database
        # trigger fires on the replica that made the change only, so each change fires once.
        local = getattr(self._store, "subscribe_local", None)
        if local is not None:
            subscription: Subscription = local(listener)
            return subscription
        subscribed: Subscription = self._store.subscribe(listener)
        return subscribed

    def check_filter(self, class_name: str, where: Mapping[str, Any]) -> None:
        self._store.check_filter(class_name, where)

    def matches(self, class_name: str, where: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
        return self._store.matches(class_name, where, record, _MASTER)
