"""Adapts the records store to the runtime's ``RecordsPort``: functions run as master.

The runtime may not import ``sidecar.store``; the backend composition binds the two here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sidecar.runtime.records_port import JsonObject, RecordQuery
from sidecar.store import CallerContext, QueryOptions, SqliteRecordStore

MASTER = CallerContext.master()


class StoreRecordsPort:
    def __init__(self, store: SqliteRecordStore) -> None:
        self.store = store

    async def query(self, collection: str, query: RecordQuery) -> tuple[list[JsonObject], int | None]:
        options = QueryOptions(
            where=query.where,
            order=query.order,
            limit=query.limit if query.limit is not None else 100,
            skip=query.skip or 0,
            count=query.count,
            include=query.include,
        )
        result = await self.store.query(collection, options, MASTER)
        return result.results, result.count

    async def fetch(self, collection: str, object_id: str) -> JsonObject:
        return await self.store.fetch(collection, object_id, MASTER)

    async def create(self, collection: str, body: Mapping[str, Any]) -> JsonObject:
        return (await self.store.create(collection, body, MASTER)).object

    async def save(self, collection: str, object_id: str, body: Mapping[str, Any]) -> JsonObject:
        return (await self.store.save(collection, object_id, body, MASTER)).object

    async def delete(self, collection: str, object_id: str) -> None:
        await self.store.delete(collection, object_id, MASTER)

    async def add_relation(
        self, collection: str, object_id: str, key: str, targets: Sequence[Mapping[str, Any]]
    ) -> None:
        await self.store.add_relation(collection, object_id, key, targets, MASTER)

    async def remove_relation(
        self, collection: str, object_id: str, key: str, targets: Sequence[Mapping[str, Any]]
    ) -> None:
        await self.store.remove_relation(collection, object_id, key, targets, MASTER)

    async def aggregate(self, collection: str, pipeline: Sequence[Mapping[str, Any]]) -> list[JsonObject]:
        return await self.store.aggregate(collection, pipeline, MASTER)

    async def count(self, collection: str, where: Mapping[str, Any]) -> int:
        return await self.store.count(collection, where, MASTER)

    async def distinct(self, collection: str, field_name: str, where: Mapping[str, Any]) -> list[Any]:
        return await self.store.distinct(collection, field_name, where, MASTER)

    async def current_user(self, session_token: str) -> JsonObject:
        return await self.store.current_user(session_token)

    async def save_user(self, user_id: str, body: Mapping[str, Any]) -> JsonObject:
        return (await self.store.save("_User", user_id, body, MASTER)).object
