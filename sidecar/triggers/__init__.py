"""Triggers: schedules, webhooks and database changes that start cloud functions (docs/triggers.md).

Layout (one job per module)::

    model, validate, registry      triggers.json values, strict validation, CRUD + status
    secrets_file, files            secrets.json webhook namespace (0600), atomic JSON writes
    cron, plan                     pure: next fire in a zone; fires owed (misfire policies)
    clock, scheduler               injectable clock; one timer for the earliest due schedule; overlap
    webhook_verify, webhook_handler  pure HMAC/token checks; aiohttp handler for /hooks/:backendId/:slug
    dbchange                       change bus → fires, loop guard
    payloads, dispatcher           run payloads; the single fire path (results and rejections)
    ports                          Protocols the backend implements (functions, history, change bus, secrets)
    service                        composition for one backend; the backend:*Trigger channel methods
"""

from sidecar.triggers.clock import Clock, SimulatedClock, SystemClock
from sidecar.triggers.cron import CronSpec, next_fire, parse_cron
from sidecar.triggers.dispatcher import FireOutcome
from sidecar.triggers.model import TriggerDef, TriggersFile
from sidecar.triggers.ports import (
    ChangeSource,
    FunctionRequest,
    FunctionTarget,
    Rejection,
    RejectionRecorder,
    SecretStore,
    TriggerInfo,
    TriggerKind,
    WorkflowTarget,
)
from sidecar.triggers.registry import TriggerRegistry, UpsertResult
from sidecar.triggers.secrets_file import FileSecretStore
from sidecar.triggers.service import TriggerService, TriggerServiceConfig
from sidecar.triggers.webhook_handler import WebhookGateway

__all__ = [
    "ChangeSource",
    "Clock",
    "CronSpec",
    "FileSecretStore",
    "FireOutcome",
    "FunctionRequest",
    "FunctionTarget",
    "Rejection",
    "RejectionRecorder",
    "SecretStore",
    "SimulatedClock",
    "SystemClock",
    "TriggerDef",
    "TriggerInfo",
    "TriggerKind",
    "TriggerRegistry",
    "TriggerService",
    "TriggerServiceConfig",
    "TriggersFile",
    "UpsertResult",
    "WebhookGateway",
    "WorkflowTarget",
    "next_fire",
    "parse_cron",
]
