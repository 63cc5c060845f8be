"""``add_relation`` / ``remove_relation`` of every record store: Parse's relation operations sent through
the store's own ``save`` (so they take its rights, hooks and change events), written once for all stores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sidecar.store.interface import CallerContext, SaveResult


class _Saves(Protocol):
    async def save(
        self,
        class_name: str,
        object_id: str,
        body: Mapping[str, Any],
        caller: CallerContext,
        expect: Mapping[str, Any] | None = None,
    ) -> SaveResult: ...


class RelationEdits:
    """Mixed into a record store that has ``save``."""

    async def add_relation(
        self: _Saves,
        class_name: str,
        object_id: str,
        key: str,
        targets: Sequence[Mapping[str, Any]],
        caller: CallerContext,
    ) -> SaveResult:
        return await self.save(class_name, object_id, _relation_op("AddRelation", key, targets), caller)

    async def remove_relation(
        self: _Saves,
        class_name: str,
        object_id: str,
        key: str,
        targets: Sequence[Mapping[str, Any]],
        caller: CallerContext,
    ) -> SaveResult:
        return await self.save(class_name, object_id, _relation_op("RemoveRelation", key, targets), caller)


def _relation_op(op: str, key: str, targets: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The save body of one relation operation: ``{key: {"__op": op, "objects": [pointers]}}``."""
    return {key: {"__op": op, "objects": list(targets)}}
