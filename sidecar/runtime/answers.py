"""How a run ends and what it answers: the one place each outcome gets its status code and error text.

A run resolves with one ``FunctionResponse``; every caller shows that same value and derives nothing
of its own: the HTTP door writes it (``POST /functions/:name``), ``function:run``, re-runs and
trigger fires return it, the execution history stores it (the row's and ``execution:finished``'s
``errorMessage`` is ``HTTP <status>: <error>``), and ``noodl-sidecar run`` prints it.

The answers are those of the editor's local backend, which hosts the runner (see docs/runtime.md):

========== ====== =====================================================================================
outcome    status body
========== ====== =====================================================================================
RESPONDED  any    what the Response node sent (or the Request node's 400 for a request that breaks
                  its typed contract), byte-identical to the real runner
REJECTED   500    ``{"error": message}``: the runner's ``run()`` rejected (authentication refused, a
                  script over its time or memory limit, an exception while building or starting the
                  run). The cloud's isolate host answered these with 400; the local backend with 500.
NOT_FOUND  404    ``{"error": "Function '<name>' not found", "code": "function/not-found"}``
TIMED_OUT  504    ``{"error": …, "code": "function/timeout", "function", "timeoutMs"}``
========== ====== =====================================================================================
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sidecar.errors import FunctionNotFoundError
from sidecar.runtime.values import js_stringify

REJECTED_STATUS = 500
NOT_FOUND_STATUS = FunctionNotFoundError.http_status
TIMED_OUT_STATUS = 504
TIMEOUT_CODE = "function/timeout"


class Outcome(enum.Enum):
    RESPONDED = "responded"
    REJECTED = "rejected"
    NOT_FOUND = "not-found"
    TIMED_OUT = "timed-out"


@dataclass(frozen=True, slots=True)
class FunctionResponse:
    """What a run resolves with: the status code and exact body text every caller answers."""

    status_code: int
    body: str
    outcome: Outcome = Outcome.RESPONDED


def rejected(message: str) -> FunctionResponse:
    return FunctionResponse(REJECTED_STATUS, js_stringify({"error": message}) or "{}", Outcome.REJECTED)


def not_found(function: str) -> FunctionResponse:
    """The answer of the HTTP door for a name no bundle has (its error envelope, same text and code)."""
    error = FunctionNotFoundError.for_function(function)
    body = {"error": error.message, "code": error.code}
    return FunctionResponse(NOT_FOUND_STATUS, js_stringify(body) or "{}", Outcome.NOT_FOUND)


def timed_out(function: str, limit_seconds: float) -> FunctionResponse:
    ms = round(limit_seconds * 1000)
    body = {
        "error": (
            f'Cloud function "{function}" did not send a response within {ms}ms and was stopped. '
            "Check that every path through the function reaches a Response node."
        ),
        "code": TIMEOUT_CODE,
        "function": function,
        "timeoutMs": ms,
    }
    return FunctionResponse(TIMED_OUT_STATUS, js_stringify(body) or "{}", Outcome.TIMED_OUT)
