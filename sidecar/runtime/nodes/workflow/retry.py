"""Workflow Retry: repeat an attempt with exponential backoff until it succeeds or gives up.

Choices: the attempt is whatever the ``attempt`` signal starts (a REST node, a component); its
outcome comes back on ``attemptSucceeded`` / ``attemptFailed`` (with the failure in ``error``), so
any node with success/failure signals can be retried without wrapping. The policy is Windmill's
(exponential backoff with a jitter factor and a retry-if predicate) with n8n's defaults (3 tries,
1 000 ms): the wait before attempt n+1 is ``delayMs * backoffMultiplier^(n-1)``, capped at
``maxDelayMs``, then spread by ``± jitter`` (a fraction, 0 = none). ``retryOn`` is a regular
expression searched in the error text; when set, other errors fail at once. Giving up fires
``failure`` with ``lastError`` and records an error step with this node's id (an enclosing
Try/Catch catches it only when ``failure`` is unwired); each attempt is a step of this node,
numbered by ``run_index``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from sidecar.runtime.nodes.workflow.common import WorkflowNode, number_or, record_failure, run_as_step
from sidecar.runtime.nodes.workflow.timing import start_timer
from sidecar.runtime.ports import InputSpec, OutputSpec, Setter
from sidecar.runtime.values import UNDEFINED, js_to_string


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    delay_ms: float = 1000.0
    multiplier: float = 2.0
    max_delay_ms: float = 30_000.0
    jitter: float = 0.0
    retry_on: str = ""

    def delay_before(self, attempt: int, draw: float) -> float:
        """The wait before ``attempt`` (2, 3, …); ``draw`` in [0, 1) spreads it by ± jitter."""
        base = min(self.delay_ms * self.multiplier ** (attempt - 2), self.max_delay_ms)
        spread = 1 + min(max(self.jitter, 0.0), 1.0) * (2 * draw - 1)
        return max(0.0, base * spread)

    def should_retry(self, attempt: int, error_text: str) -> bool:
        if attempt >= self.max_attempts:
            return False
        if not self.retry_on:
            return True
        try:
            return re.search(self.retry_on, error_text) is not None
        except re.error:
            return False


def _setting(name: str) -> Setter:
    return lambda node, value: node.settings.__setitem__(name, value)


def error_text(error: Any) -> str:
    if isinstance(error, dict) and "message" in error:
        return js_to_string(error["message"])
    return "" if error is UNDEFINED or error is None else js_to_string(error)


class WorkflowRetryNode(WorkflowNode):
    TYPE = "Workflow Retry"
    DISPLAY_NAME = "Workflow Retry"
    DOCS = "On Run, fires Attempt; on Attempt Failed retries with backoff, up to Max Attempts."

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.settings: dict[str, Any] = {}
        self.attempt_number = 0
        self.last_error: Any = UNDEFINED
        self.active = False

    def policy(self) -> RetryPolicy:
        s = self.settings

        def number(name: str, fallback: float) -> float:
            # An input never set keeps its default: Number(null) is 0, which capped every backoff at 0 ms.
            value = s.get(name)
            return fallback if value is None or value is UNDEFINED else number_or(value, fallback)

        return RetryPolicy(
            max_attempts=max(1, int(number("maxAttempts", 3))),
            delay_ms=max(0.0, number("delayMs", 1000)),
            multiplier=max(0.0, number("backoffMultiplier", 2)),
            max_delay_ms=max(0.0, number("maxDelayMs", 30_000)),
            jitter=number("jitter", 0),
            retry_on=js_to_string(s.get("retryOn") or ""),
        )

    def _on_run(self) -> None:
        self.schedule_after_inputs(self._begin)

    def _begin(self) -> None:
        self.active = True
        self.attempt_number = 0
        self.last_error = UNDEFINED
        self._attempt()

    def _attempt(self) -> None:
        self.attempt_number += 1
        self.flag_output_dirty("attemptNumber")
        self.send_signal("attempt")

    def _on_succeeded(self) -> None:
        if self.active:
            self.active = False
            self.schedule_after_inputs(lambda: self.send_signal("success"))

    def _on_failed(self) -> None:
        if self.active:
            self.schedule_after_inputs(self._failed)

    def _failed(self) -> None:
        self.last_error = self.settings.get("error", UNDEFINED)
        self.flag_output_dirty("lastError")
        policy = self.policy()
        text = error_text(self.last_error)
        if policy.should_retry(self.attempt_number, text):
            delay = policy.delay_before(self.attempt_number + 1, random.random())
            upcoming = self.attempt_number + 1
            start_timer(self, delay, lambda: run_as_step(self, {"attemptNumber": upcoming}, self._attempt))
            return
        self.active = False
        message = f"gave up after {self.attempt_number} attempt(s): {text or 'attempt failed'}"
        record_failure(self, message, handled=self.has_output_connections("failure"))
        self.send_signal("failure")

    INPUTS = (
        InputSpec(
            "maxAttempts", "number", set=_setting("maxAttempts"), default=3, display_name="Max Attempts"
        ),
        InputSpec("delayMs", "number", set=_setting("delayMs"), default=1000, display_name="Delay (ms)"),
        InputSpec(
            "backoffMultiplier",
            "number",
            set=_setting("backoffMultiplier"),
            default=2,
            display_name="Backoff Multiplier",
        ),
        InputSpec(
            "maxDelayMs", "number", set=_setting("maxDelayMs"), default=30_000, display_name="Max Delay (ms)"
        ),
        InputSpec("jitter", "number", set=_setting("jitter"), default=0, display_name="Jitter (0 to 1)"),
        InputSpec("retryOn", "string", set=_setting("retryOn"), default="", display_name="Retry On (regex)"),
        InputSpec("error", "*", set=_setting("error"), display_name="Error"),
        InputSpec("run", "signal", on_signal=_on_run, display_name="Run"),
        InputSpec("attemptSucceeded", "signal", on_signal=_on_succeeded, display_name="Attempt Succeeded"),
        InputSpec("attemptFailed", "signal", on_signal=_on_failed, display_name="Attempt Failed"),
    )
    OUTPUTS = (
        OutputSpec("attempt", "signal", display_name="Attempt", group="Events"),
        OutputSpec("success", "signal", display_name="Success", group="Events"),
        OutputSpec("failure", "signal", display_name="Failure", group="Events"),
        OutputSpec("attemptNumber", "number", get=lambda n: n.attempt_number, display_name="Attempt Number"),
        OutputSpec("lastError", "*", get=lambda n: n.last_error, display_name="Last Error"),
    )
