"""Retention: prune finished executions by age, count per workflow, total count and total bytes.

Runs in the background in small batches — select up to ``batch_size`` ids, delete them in one short
transaction, yield to other work, repeat — then hands free pages back with incremental vacuum, a few at a
time. ``running`` rows are never pruned. Defaults follow the contract: 30 days, nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from sidecar.history.interface import RetainedHistoryStore
from sidecar.history.rows import now_ms

DAY_MS = 24 * 3600 * 1000
DEFAULT_MAX_AGE_MS = 30 * DAY_MS
VACUUM_PAGES_PER_STEP = 256

log = structlog.get_logger()


@dataclass(frozen=True)
class RetentionConfig:
    max_age_ms: int | None = DEFAULT_MAX_AGE_MS
    failed_max_age_ms: int | None = None
    """Age limit for failed runs when they should live longer (or shorter); None = ``max_age_ms``."""
    keep_failed_executions: bool = False
    """Failed runs are exempt from every rule except ``failed_max_age_ms``."""
    max_count_per_workflow: int | None = None
    max_total_count: int | None = None
    max_total_bytes: int | None = None
    batch_size: int = 500
    interval_seconds: float = 600.0
    pause_seconds: float = 0.01
    """Pause between delete batches, so runs' writes interleave with pruning."""


Selector = Callable[[RetainedHistoryStore], Awaitable[list[str]]]


def _selectors(config: RetentionConfig, now: int) -> list[Selector]:
    limit = config.batch_size
    keep_failed = config.keep_failed_executions
    separate_failed_age = keep_failed or config.failed_max_age_ms is not None
    rules: list[Selector] = []
    if (max_age := config.max_age_ms) is not None:
        which = False if separate_failed_age else None
        rules.append(lambda store: store.older_than(now - max_age, failed=which, limit=limit))
    if (failed_age := config.failed_max_age_ms) is not None:
        rules.append(lambda store: store.older_than(now - failed_age, failed=True, limit=limit))
    if (per_workflow := config.max_count_per_workflow) is not None:
        rules.append(
            lambda store: store.over_count_per_workflow(per_workflow, keep_failed=keep_failed, limit=limit)
        )
    if (total := config.max_total_count) is not None:
        rules.append(lambda store: store.over_total_count(total, keep_failed=keep_failed, limit=limit))
    return rules


async def apply_retention(
    store: RetainedHistoryStore, config: RetentionConfig, now: int | None = None
) -> int:
    """One full pass of every rule; returns how many executions were deleted."""
    deleted = 0
    for select in _selectors(config, now_ms() if now is None else now):
        deleted += await _drain(store, select, config.pause_seconds)
    if config.max_total_bytes is not None:
        deleted += await _prune_to_bytes(store, config)
    if deleted:
        await _vacuum(store, config.pause_seconds)
    return deleted


async def _drain(store: RetainedHistoryStore, select: Selector, pause: float) -> int:
    deleted = 0
    while ids := await select(store):
        deleted += await store.delete_executions(ids)
        await asyncio.sleep(pause)
    return deleted


async def _prune_to_bytes(store: RetainedHistoryStore, config: RetentionConfig) -> int:
    """Delete oldest batches until the used bytes fit the budget (freed pages count as free)."""
    assert config.max_total_bytes is not None
    deleted = 0
    while await store.used_bytes() > config.max_total_bytes:
        ids = await store.oldest(config.batch_size, keep_failed=config.keep_failed_executions)
        if not ids:
            break
        deleted += await store.delete_executions(ids)
        await asyncio.sleep(config.pause_seconds)
    return deleted


async def _vacuum(store: RetainedHistoryStore, pause: float) -> None:
    free = await store.reclaim(VACUUM_PAGES_PER_STEP)
    while free > 0:
        await asyncio.sleep(pause)  # a pause between steps lets the writer's batches in
        free = await store.reclaim(VACUUM_PAGES_PER_STEP)


class RetentionTask:
    """Applies the policy at start and then every ``interval_seconds`` until stopped."""

    def __init__(self, store: RetainedHistoryStore, config: RetentionConfig) -> None:
        self._store = store
        self._config = config
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="history-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                deleted = await apply_retention(self._store, self._config)
                if deleted:
                    log.info("execution history pruned", deleted=deleted)
            except Exception as error:  # pruning failures must not stop the backend; try again later
                log.error("execution history retention failed", error=str(error))
            await asyncio.sleep(self._config.interval_seconds)
