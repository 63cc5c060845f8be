"""Provider-specific credential checks: ``credentials:test`` runs the one registered for the provider.

A check gets the value and answers a :class:`CheckOutcome`; it may call the provider (a cheap
authenticated request). Providers without a check answer ``untested``. The provider clients (AI nodes,
deploy targets) register theirs when they are imported.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

CheckStatus = Literal["ok", "failed", "untested"]


@dataclass(frozen=True)
class CheckOutcome:
    status: CheckStatus
    message: str = ""


Check = Callable[[str], Awaitable[CheckOutcome]]

_CHECKS: dict[str, Check] = {}


def register_check(provider: str, check: Check) -> None:
    """Make ``check`` the test of every credential of ``provider`` (replacing an earlier one)."""
    _CHECKS[provider] = check


def unregister_check(provider: str) -> None:
    _CHECKS.pop(provider, None)


def check_for(provider: str) -> Check | None:
    return _CHECKS.get(provider)
