"""Adapts the records store (``sidecar.store``) to :class:`sidecar.triggers.ports.ChangeSource`.

Only the composition root and integration tests import this module, so the trigger core does not load
the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sidecar.store import CallerContext, SqliteRecordStore
from sidecar.triggers.ports import ChangeListener, Subscription

_MASTER = CallerContext.master()


class StoreChangeSource:
    def __init__(self, store: SqliteRecordStore) -> None:
        self._store = store

    def subscribe(self, listener: ChangeListener) -> Subscription:
        return self._store.subscribe(listener)

    def check_filter(self, class_name: str, where: Mapping[str, Any]) -> None:
        self._store.check_filter(class_name, where)

    def matches(self, class_name: str, where: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
        return self._store.matches(class_name, where, record, _MASTER)
