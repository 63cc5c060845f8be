"""The narrow port through which Records, User and Config nodes reach the backend's data.

It mirrors the store's ``RecordStore``/``AuthStore`` methods (same names, Parse REST JSON in and out)
without their caller and options types, so the runtime never imports ``sidecar.store``. Functions run
as admin, so the composition root binds the master caller when it adapts the store. Errors
are raised as exceptions carrying a ``message``; nodes put it on their ``error`` output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecordQuery:
    """A find: Parse ``where``, ``order`` as field names (``-name`` descending), paging and count."""

    where: Mapping[str, Any]
    order: tuple[str, ...] = ()
    limit: int | None = None
    skip: int | None = None
    count: bool = False
    include: tuple[str, ...] = ()


class RecordsPort(Protocol):
    async def query(self, collection: str, query: RecordQuery) -> tuple[list[JsonObject], int | None]:
        """Matching objects and, when ``query.count``, the total number of matches."""
        ...

    async def fetch(self, collection: str, object_id: str) -> JsonObject: ...

    async def create(self, collection: str, body: Mapping[str, Any]) -> JsonObject:
        """The stored object (with ``objectId``, ``createdAt``, ``updatedAt``)."""
        ...

    async def save(self, collection: str, object_id: str, body: Mapping[str, Any]) -> JsonObject:
        """The object after the update."""
        ...

    async def delete(self, collection: str, object_id: str) -> None: ...

    async def add_relation(
        self, collection: str, object_id: str, key: str, targets: Sequence[Mapping[str, Any]]
    ) -> None: ...

    async def remove_relation(
        self, collection: str, object_id: str, key: str, targets: Sequence[Mapping[str, Any]]
    ) -> None: ...

    async def aggregate(self, collection: str, pipeline: Sequence[Mapping[str, Any]]) -> list[JsonObject]: ...

    async def count(self, collection: str, where: Mapping[str, Any]) -> int: ...

    async def distinct(self, collection: str, field_name: str, where: Mapping[str, Any]) -> list[Any]: ...

    async def current_user(self, session_token: str) -> JsonObject:
        """``/users/me`` for a session token; raises when the token is unknown."""
        ...

    async def save_user(self, user_id: str, body: Mapping[str, Any]) -> JsonObject: ...
