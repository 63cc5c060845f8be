"""What the trigger service needs from the rest of the backend, as small structural Protocols.

The composition root hands in real implementations (the graph runtime, execution history, the records
store); tests hand in simple real ones. Values crossing these ports are frozen dataclasses.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class TriggerKind(enum.StrEnum):
    """``trigger_type`` as execution history stores it."""

    WEBHOOK = "webhook"
    SCHEDULE = "schedule"
    MANUAL = "manual"
    DB_CHANGE = "db_change"


@dataclass(frozen=True)
class FunctionRequest:
    """What the function's Request node receives: the JSON text of the run payload and headers."""

    body: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class TriggerInfo:
    """Who fired: recorded by history as ``triggerType`` and ``metadata.triggerSource/triggerId``."""

    kind: TriggerKind
    source: str
    trigger_id: str


class FunctionTarget(Protocol):
    def has_function(self, name: str) -> bool: ...

    async def invoke(self, name: str, request: FunctionRequest, trigger: TriggerInfo) -> tuple[int, str]:
        """Run a cloud function (recorded in history by the implementation); ``(status_code, body_text)``."""
        ...


class WorkflowTarget(Protocol):
    async def run_workflow(
        self, definition_id: str, payload: Mapping[str, Any], trigger: TriggerInfo
    ) -> tuple[int, str]:
        """Start a WF-001 step-DAG run (it writes its own history rows)."""
        ...


@dataclass(frozen=True)
class Rejection:
    """A fire that never reached its target: written as a failed execution row with
    ``metadata.rejected = true`` (the recorder adds ``backendId``/``backendName``)."""

    kind: TriggerKind
    trigger_id: str
    workflow_id: str
    source: str
    reason: str
    status_code: int
    trigger_data: Mapping[str, Any]


class RejectionRecorder(Protocol):
    async def record_rejection(self, rejection: Rejection) -> None: ...


class Subscription(Protocol):
    def close(self) -> None: ...


class ChangeRecord(Protocol):
    """A committed change, as the records store's ``ChangeEvent`` carries it."""

    @property
    def action(self) -> enum.Enum:
        """``create`` | ``update`` | ``delete`` (its ``value``)."""
        ...

    @property
    def class_name(self) -> str: ...

    @property
    def object_id(self) -> str: ...

    @property
    def record(self) -> Mapping[str, Any]:
        """The full object after the write; for a delete, the object as it was before."""
        ...

    @property
    def claims(self) -> Sequence[tuple[str, str]]:
        """(trigger id, claim id) of the fires claimed for this change in its transaction (replicas on
        PostgreSQL, see :class:`ChangeClaims`); empty when fires are not claimed."""
        ...


class ClaimedChangeRecord(ChangeRecord, Protocol):
    """A change whose fire another replica claimed and did not finish, taken over by this one."""

    @property
    def claim_id(self) -> str: ...

    @property
    def trigger_id(self) -> str: ...


ChangeListener = Callable[[ChangeRecord], Awaitable[None] | None]


class ChangeSource(Protocol):
    """The records store's post-commit change bus and its filter semantics (see ``store_source``)."""

    def subscribe(self, listener: ChangeListener) -> Subscription: ...

    def check_filter(self, class_name: str, where: Mapping[str, Any]) -> None:
        """Raise a ``SidecarError`` when ``where`` cannot be compiled."""
        ...

    def matches(self, class_name: str, where: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
        """``record`` passes ``where`` with query semantics (no ACL: triggers act with master rights)."""
        ...


class SecretStore(Protocol):
    def webhook_secret(self, trigger_id: str) -> str | None: ...

    def set_webhook_secret(self, trigger_id: str, secret: str) -> None: ...

    def delete_webhook_secret(self, trigger_id: str) -> None: ...


class FireClaims(Protocol):
    """Who runs each schedule fire when several replicas serve one backend (see
    ``sidecar.store.postgres.fire_claims``): a fire is identified by (trigger id, scheduled-for slot)."""

    async def claim(self, trigger_id: str, slot: float) -> bool:
        """True for exactly one caller per fire while its lease holds; after the lease expires without
        :meth:`finish`, one more caller may take it over (the first replica died mid-fire)."""
        ...

    async def finish(self, trigger_id: str, slot: float) -> None:
        """The fire ran: nobody takes it over any more."""
        ...

    @property
    def lease_seconds(self) -> float:
        """How long a claim holds unless renewed."""
        ...

    async def renew(self, trigger_id: str, slot: float) -> bool:
        """Extend this caller's lease on a fire still running (False: it is not this caller's any more)."""
        ...

    async def abandoned(self) -> list[tuple[str, float]]:
        """Fires whose lease expired unfinished, for a live replica to claim and run."""
        ...


class ChangeClaims(Protocol):
    """Who runs each database-change fire when several replicas serve one backend (see
    ``sidecar.store.postgres.change_claims``): the writing replica claims the fires in the change's own
    transaction (:attr:`ChangeRecord.claims`), runs them, and finishes each claim."""

    @property
    def lease_seconds(self) -> float:
        """How long a claim holds unless renewed."""
        ...

    async def renew(self, claim_id: str) -> bool:
        """Extend this caller's lease on a fire still running (False: it is not this caller's any more)."""
        ...

    async def finish(self, claim_id: str) -> None:
        """The fire ran (or was suppressed): nobody runs it any more."""
        ...

    async def abandoned(self) -> Sequence[ClaimedChangeRecord]:
        """Claim for this caller the fires whose lease expired unfinished (their replica died)."""
        ...
