"""Re-run a past execution: rebuild its request from the recorded (scrubbed) trigger data.

Only what was recorded in clear can be replayed: redacted headers and body keys are left out (the caller
may add fresh credentials), so a re-run never resurrects a secret. The new run carries
``metadata.retryOf`` = the original execution id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sidecar.errors import RerunUnavailableError
from sidecar.history.recorder import RunTrigger
from sidecar.history.scrub import TOO_DEEP, UNPARSABLE_BODY
from sidecar.secret_text import MARKER_PREFIX, is_marker


@dataclass(frozen=True)
class RerunRequest:
    function: str
    headers: dict[str, str]
    body: str
    """JSON text, as a function request body."""
    trigger: RunTrigger
    omitted: tuple[str, ...]
    """Paths of redacted parts left out (``headers.authorization``, ``body.password``)."""


def rerun_request(execution: Mapping[str, Any]) -> RerunRequest:
    """From an ExecutionWithSteps / WorkflowExecution JSON; raises ``RerunUnavailableError``."""
    execution_id = str(execution.get("id"))
    data = execution.get("triggerData")
    if (isinstance(data, dict) and data.get("__truncated")) or data == {
        "__error": "Failed to serialize data"
    }:
        raise RerunUnavailableError(f"the request of execution {execution_id} was not recorded in full")
    if not isinstance(data, dict) or "body" not in data:
        raise RerunUnavailableError(f"execution {execution_id} has no recorded request")
    if data.get("body") == UNPARSABLE_BODY:
        raise RerunUnavailableError(f"the request of execution {execution_id} was not recorded in full")
    omitted: list[str] = []
    headers = {
        name: str(value)
        for name, value in (data.get("headers") or {}).items()
        if not _redacted(value, f"headers.{name}", omitted)
    }
    body = _without_redacted(data["body"], "body", omitted)
    trigger = RunTrigger(trigger_type="manual", trigger_source="rerun", extra={"retryOf": execution_id})
    return RerunRequest(
        function=str(execution.get("workflowId")),
        headers=headers,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        trigger=trigger,
        omitted=tuple(omitted),
    )


def _redacted(value: Any, path: str, omitted: list[str]) -> bool:
    if value == TOO_DEEP or (isinstance(value, str) and is_marker(value)):
        omitted.append(path)
        return True
    return False


def _without_redacted(value: Any, path: str, omitted: list[str]) -> Any:
    if isinstance(value, dict):
        if value.get("__truncated"):
            raise RerunUnavailableError(f"{path} was truncated when recorded")
        return {
            key: _without_redacted(item, f"{path}.{key}", omitted)
            for key, item in value.items()
            if not _redacted(item, f"{path}.{key}", omitted)
        }
    if isinstance(value, list):
        return [_without_redacted(item, f"{path}[{i}]", omitted) for i, item in enumerate(value)]
    if isinstance(value, str) and MARKER_PREFIX in value:
        raise RerunUnavailableError(f"{path} held a secret that was redacted")
    return value
