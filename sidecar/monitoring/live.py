"""The real-time feed: once a second, what one backend's runs did in that second.

Each frame::

    {"at": <epoch ms, end of the second>, "backendId", "runsPerSecond", "errors", "p95Ms" | null,
     "inFlight", "byWorkflow": {"<id>": {"runs", "errors"}}, "latestFailures": [
        {"executionId", "workflowId", "error", "at", "durationMs"}, …newest first, at most 10],
     "latestRuns": [{"executionId", "workflowId", "status", "durationMs", "at"}, …newest first, at most 10]}

The feed counts execution rows as the history writer *accepts* them (``HistoryWriter.submitted``), not as
it commits them: a run's figures are in the next frame even while history writes lag behind a burst. A
running row counts one more in flight, a final row one less. Frames are only built while someone
subscribes: subscribers are sinks called synchronously with each frame (the IPC door writes a
notification; the SSE route queues it), and a failing sink is dropped without disturbing the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog

from sidecar.history.rows import ExecutionRow
from sidecar.monitoring.sketch import Histogram

FRAME_SECONDS = 1.0
LATEST_FAILURES = 10
LATEST_RUNS = 10

Frame = dict[str, Any]
FrameSink = Callable[[Frame], None]

log = structlog.get_logger("sidecar.monitoring")


class LiveFeed:
    def __init__(self, backend_id: str, clock: Callable[[], float] = time.time) -> None:
        self.backend_id = backend_id
        self._clock = clock
        self.in_flight = 0
        self._runs = 0
        self._errors = 0
        self._histogram = Histogram()
        self._by_workflow: dict[str, list[int]] = {}
        self._failures: deque[dict[str, Any]] = deque(maxlen=LATEST_FAILURES)
        self._latest: deque[ExecutionRow] = deque(maxlen=LATEST_RUNS)
        self._sinks: dict[str, FrameSink] = {}
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None

    # ---- input (the history writer's ``submitted`` hook: synchronous, on the runs' path) ----------

    def row(self, row: ExecutionRow) -> None:
        if row.status == "running":
            self.in_flight += 1
            return
        if row.metadata is None or '"rejected":true' not in row.metadata:  # a rejection never ran
            self.in_flight = max(0, self.in_flight - 1)
        duration = row.duration_ms or 0
        self._latest.append(row)
        self._runs += 1
        self._histogram.add(duration)
        counts = self._by_workflow.get(row.workflow_id)
        if counts is None:
            counts = self._by_workflow[row.workflow_id] = [0, 0]
        counts[0] += 1
        if row.status != "success":
            self._errors += 1
            counts[1] += 1
            self._failures.appendleft(
                {
                    "executionId": row.id,
                    "workflowId": row.workflow_id,
                    "error": row.error_message,
                    "at": row.completed_at,
                    "durationMs": duration,
                }
            )

    # ---- output -----------------------------------------------------------------------------------

    def frame(self) -> Frame:
        """The figures since the last frame (and resets them)."""
        frame = {
            "at": int(self._clock() * 1000),
            "backendId": self.backend_id,
            "runsPerSecond": self._runs,
            "errors": self._errors,
            "p95Ms": self._histogram.quantile(0.95),
            "inFlight": self.in_flight,
            "byWorkflow": {wf: {"runs": c[0], "errors": c[1]} for wf, c in self._by_workflow.items()},
            "latestFailures": list(self._failures),
            "latestRuns": [
                {
                    "executionId": run.id,
                    "workflowId": run.workflow_id,
                    "status": run.status,
                    "durationMs": run.duration_ms,
                    "at": run.completed_at,
                }
                for run in reversed(self._latest)
            ],
        }
        self._runs = self._errors = 0
        self._histogram = Histogram()
        self._by_workflow = {}
        return frame

    def subscribe(self, sink: FrameSink) -> str:
        subscription_id = f"mon_{next(self._ids)}"
        if not self._sinks:
            self.frame()  # the first frame covers one second, not the time nobody watched
        self._sinks[subscription_id] = sink
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="monitoring-feed")
        return subscription_id

    def unsubscribe(self, subscription_id: str) -> bool:
        return self._sinks.pop(subscription_id, None) is not None

    @property
    def subscriber_count(self) -> int:
        return len(self._sinks)

    def publish(self) -> None:
        frame = self.frame()
        for subscription_id, sink in list(self._sinks.items()):
            try:
                sink(frame)
            except Exception as error:  # one broken subscriber must not silence the others
                log.warning("monitoring feed sink failed", subscription=subscription_id, error=repr(error))
                self._sinks.pop(subscription_id, None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + FRAME_SECONDS
        while self._sinks:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            # A loop busy past the next second sends one frame late rather than several at once.
            next_at = max(next_at + FRAME_SECONDS, loop.time() + FRAME_SECONDS / 2)
            self.publish()
        self._task = None

    async def close(self) -> None:
        self._sinks.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
