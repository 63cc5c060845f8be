"""Binding a method is cheap: its result's serializer is made on the method's first answer, not when the
table is bound (a session calls a few of ~100 methods, and the table is bound before ``initialize``
is answered). The answer itself is the same either way: camelCase keys, declared optional fields as null."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from ipc_schema.backends import BackendIdParams, BackendMetadata
from sidecar.ipc import methods
from sidecar.ipc.methods import CallContext, MethodTable


def test_a_result_serializer_is_made_on_the_first_answer_then_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Any] = []

    def counting_adapter(result_type: Any) -> TypeAdapter[Any]:
        made.append(result_type)
        return TypeAdapter(result_type)

    monkeypatch.setattr(methods, "TypeAdapter", counting_adapter)
    table = MethodTable()

    @table.method("backend:list")
    async def list_backends(_ctx: CallContext, _params: Any) -> list[BackendMetadata]:
        return []

    @table.method("backend:get")
    async def get_backend(_ctx: CallContext, _params: BackendIdParams) -> BackendMetadata | None:
        return None

    assert made == []
    bound = table.get("backend:list")
    assert bound is not None
    metadata = BackendMetadata.model_validate(
        {"id": "b1", "name": "One", "createdAt": "2026-01-01T00:00:00Z", "port": 8577}
    )
    first = bound.dump_result([metadata])
    assert bound.dump_result([]) == []
    assert len(made) == 1
    assert first == [
        {"id": "b1", "name": "One", "createdAt": "2026-01-01T00:00:00Z", "port": 8577, "projectIds": []}
    ]
