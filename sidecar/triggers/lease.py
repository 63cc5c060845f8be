"""Running a claimed fire (schedule or database change) while holding its lease.

Replicas claim a fire with a lease (``sidecar.store.postgres.fire_claims``, ``…change_claims``); while the
fire runs, its lease is renewed three times a lease, so only a dead replica's fire (whose renewals stopped)
is taken over by another replica, never a slow one on a live replica. The lease runs on the database's
clock (real time), not the schedules' clock. When the fire ends, with a result or an error, the claim is
finished; a fire cancelled because its replica is stopping is left unfinished, for another replica.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog

log = structlog.get_logger()

T = TypeVar("T")


async def run_leased(
    work: Awaitable[T],
    *,
    renew: Callable[[], Awaitable[bool]],
    finish: Callable[[], Awaitable[object]],
    lease_seconds: float,
    **context: Any,
) -> T:
    """Await ``work`` while renewing its lease; ``finish`` the claim afterwards (``context`` is logged)."""
    holding = asyncio.create_task(_hold(renew, lease_seconds, context))
    try:
        result = await work
    except asyncio.CancelledError:
        # The replica is stopping mid-fire: the claim stays unfinished, so another replica takes the fire
        # over once the lease expires (as if this one had died).
        holding.cancel()
        raise
    except BaseException:
        await _stop(holding)
        await finish()
        raise
    await _stop(holding)
    await finish()
    return result


async def _stop(holding: asyncio.Task[None]) -> None:
    holding.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await holding


async def _hold(renew: Callable[[], Awaitable[bool]], lease_seconds: float, context: dict[str, Any]) -> None:
    interval = lease_seconds / 3
    while True:
        await asyncio.sleep(interval)
        try:
            if not await renew():
                log.warning("fire lease lost", **context)
                return
        except Exception:  # the database away for a moment: try again before the lease ends
            log.exception("fire lease renewal failed", **context)
