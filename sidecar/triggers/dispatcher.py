"""The single path for every fire: schedule, webhook, db-change and manual.

A fire either reaches its target (function or WF-001 workflow) or is *rejected*; a rejection is written
as a failed execution row, never dropped silently. Either way the trigger's status is updated.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from sidecar.triggers.model import LastResult, TargetKind, TriggerDef
from sidecar.triggers.ports import (
    FunctionRequest,
    FunctionTarget,
    Rejection,
    RejectionRecorder,
    TriggerInfo,
    TriggerKind,
    WorkflowTarget,
)

log = structlog.get_logger()

RUNNER_NOT_READY = "Backend workflow runner is not ready — trigger fire dropped"
# The function's body is the run payload, not the caller's bytes: headers describing those bytes go.
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding", "transfer-encoding"})


@dataclass(frozen=True)
class FireOutcome:
    status_code: int
    body: str
    rejected: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


@dataclass(frozen=True)
class FireRequest:
    trigger: TriggerDef
    kind: TriggerKind
    source: str
    payload: Mapping[str, Any]
    headers: Mapping[str, str] | None = None
    """Headers for the function's request (webhooks forward the caller's, scrubbed)."""


class StatusSink(Protocol):
    """Where fire results go; :class:`sidecar.triggers.registry.TriggerRegistry` is one."""

    def record_fire(self, trigger_id: str, result: LastResult, next_fire_at: str | None = None) -> None: ...


class Dispatcher:
    def __init__(
        self,
        *,
        status: StatusSink,
        recorder: RejectionRecorder,
        now_iso: Callable[[], str],
        functions: FunctionTarget | None = None,
        workflows: WorkflowTarget | None = None,
        next_fire_at: Callable[[str], str | None] = lambda _trigger_id: None,
    ) -> None:
        self._status = status
        self._recorder = recorder
        self._now_iso = now_iso
        self._functions = functions
        self._workflows = workflows
        self._next_fire_at = next_fire_at

    async def dispatch(self, fire: FireRequest) -> FireOutcome:
        target = fire.trigger.target
        info = TriggerInfo(fire.kind, fire.source, fire.trigger.id)
        if target.kind is TargetKind.WORKFLOW:
            if self._workflows is None:
                return await self.reject(fire, RUNNER_NOT_READY, 503)
            outcome = await self._guarded(self._workflows.run_workflow(target.name, fire.payload, info))
        else:
            if self._functions is None:
                return await self.reject(fire, RUNNER_NOT_READY, 503)
            if not self._functions.has_function(target.name):
                reason = f'Trigger target function "{target.name}" not found on this backend'
                return await self.reject(fire, reason, 404)
            request = FunctionRequest(json.dumps(fire.payload), _request_headers(fire.headers or {}))
            outcome = await self._guarded(self._functions.invoke(target.name, request, info))
        error = None if outcome.ok else f"Target returned HTTP {outcome.status_code}"
        self._record(fire.trigger.id, LastResult(outcome.ok, self._now_iso(), outcome.status_code, error))
        return outcome

    async def reject(self, fire: FireRequest, reason: str, status_code: int) -> FireOutcome:
        """Record a fire that did not reach its target; the caller answers with ``status_code``."""
        rejection = Rejection(
            kind=fire.kind,
            trigger_id=fire.trigger.id,
            workflow_id=fire.trigger.target.name,
            source=fire.source,
            reason=reason,
            status_code=status_code,
            trigger_data=fire.payload,
        )
        try:
            await self._recorder.record_rejection(rejection)
        except Exception:  # history failures never fail the caller
            log.exception("recording a trigger rejection failed", trigger_id=fire.trigger.id)
        self._record(fire.trigger.id, LastResult(False, self._now_iso(), status_code, reason))
        log.info("trigger fire rejected", trigger_id=fire.trigger.id, reason=reason, status=status_code)
        return FireOutcome(status_code, json.dumps({"error": reason}), rejected=True)

    def _record(self, trigger_id: str, result: LastResult) -> None:
        self._status.record_fire(trigger_id, result, self._next_fire_at(trigger_id))

    @staticmethod
    async def _guarded(call: Awaitable[tuple[int, str]]) -> FireOutcome:
        try:
            status_code, body = await call
        except Exception as error:
            log.exception("trigger target raised")
            return FireOutcome(500, json.dumps({"error": str(error) or type(error).__name__}))
        return FireOutcome(status_code, body)


def _request_headers(caller_headers: Mapping[str, str]) -> dict[str, str]:
    kept = {name: value for name, value in caller_headers.items() if name.lower() not in _BODY_HEADERS}
    return {**kept, "content-type": "application/json"}
