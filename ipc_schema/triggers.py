"""The editor's trigger channels: arguments and results.

Trigger definitions travel as the contract's TriggerDef objects (validated strictly by
the trigger registry, which names every problem), so they are plain maps here.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ipc_schema.base import PositionalParams

JsonObject = dict[str, Any]


class TriggerIdParams(PositionalParams):
    backend_id: str
    trigger_id: str


class CreateTriggerParams(PositionalParams):
    backend_id: str
    definition: JsonObject = Field(
        description="A TriggerDef: type, target and one of schedule/webhook/dbChange."
    )


class UpdateTriggerParams(PositionalParams):
    backend_id: str
    trigger_id: str
    definition: JsonObject


class SetTriggerEnabledParams(PositionalParams):
    backend_id: str
    trigger_id: str
    enabled: bool


class FireTriggerParams(PositionalParams):
    backend_id: str
    trigger_id: str
    payload: JsonObject = Field(default_factory=dict)
