"""Hourly cells built from the history writer's committed batches, waiting to be merged into the file.

``observe(batch)`` is called by :class:`~sidecar.history.writer.HistoryWriter` after each committed
batch (off the runs' hot path). A finished execution row (status other than ``running``) adds one run to
its cell ``(hour of started_at, workflow, trigger type)``; a finished step row adds one step to
``(hour of its started_at, workflow, node)``. Step rows carry only their execution id: the workflow is
learnt from the run's ``running`` row, which the writer always receives before the run's steps, and
forgotten when its final row arrives (steps of a run are submitted before its final row).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from sidecar.history.rows import ExecutionRow, WriteBatch
from sidecar.monitoring.sketch import Histogram

HOUR_MS = 3_600_000
MAX_OPEN_RUNS = 100_000
"""Runs whose workflow is remembered for their steps: far above what is ever in flight; a run that never
finishes (killed process) is forgotten oldest first rather than kept forever."""


ExecutionLike = ExecutionRow
BatchLike = WriteBatch

RunKey = tuple[int, str, str]
"""(hour start in epoch ms, workflow id, trigger type)"""
NodeKey = tuple[int, str, str]
"""(hour start in epoch ms, workflow id, node id)"""


@dataclass(slots=True)
class RunCell:
    runs: int = 0
    successes: int = 0
    errors: int = 0
    timeouts: int = 0
    total_ms: int = 0
    histogram: Histogram = field(default_factory=Histogram)

    def merge(self, other: RunCell) -> None:
        self.runs += other.runs
        self.successes += other.successes
        self.errors += other.errors
        self.timeouts += other.timeouts
        self.total_ms += other.total_ms
        self.histogram.merge(other.histogram)


@dataclass(slots=True)
class NodeCell:
    node_type: str = ""
    steps: int = 0
    errors: int = 0
    total_ms: int = 0
    histogram: Histogram = field(default_factory=Histogram)

    def merge(self, other: NodeCell) -> None:
        self.node_type = other.node_type or self.node_type
        self.steps += other.steps
        self.errors += other.errors
        self.total_ms += other.total_ms
        self.histogram.merge(other.histogram)


@dataclass
class Pending:
    runs: dict[RunKey, RunCell] = field(default_factory=dict)
    nodes: dict[NodeKey, NodeCell] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.runs or self.nodes)


FinishedRun = Callable[[ExecutionLike, bool], None]
"""Called for each finished run with whether it timed out (the Prometheus exporter listens)."""


def timed_out(metadata: str | None) -> bool:
    """``metadata.timedOut`` (the recorder sets it on a run the runtime stopped at its timeout)."""
    if not metadata or '"timedOut"' not in metadata:  # cheap test first: most runs did not time out
        return False
    try:
        parsed = orjson.loads(metadata)
    except orjson.JSONDecodeError:
        return False
    return isinstance(parsed, dict) and parsed.get("timedOut") is True


class Aggregator:
    """Folds committed batches into :class:`Pending` cells; ``take()`` hands them to the store."""

    def __init__(self, on_finished: FinishedRun | None = None) -> None:
        self._pending = Pending()
        self._open_runs: OrderedDict[str, str] = OrderedDict()  # execution id → workflow id
        self._on_finished = on_finished

    def take(self) -> Pending:
        pending, self._pending = self._pending, Pending()
        return pending

    def observe(self, batch: BatchLike) -> None:
        open_runs = self._open_runs
        finished = []
        for row in batch.executions:
            if row.status == "running":
                open_runs[row.id] = row.workflow_id
                if len(open_runs) > MAX_OPEN_RUNS:
                    open_runs.popitem(last=False)
            else:
                finished.append(row)
        nodes = self._pending.nodes
        for step in batch.steps:
            if step.status == "running":
                continue
            workflow = open_runs.get(step.execution_id)
            if workflow is None:
                continue  # a step of a run whose start this process never saw
            key = (step.started_at - step.started_at % HOUR_MS, workflow, step.node_id)
            cell = nodes.get(key)
            if cell is None:
                cell = nodes[key] = NodeCell(step.node_type)
            duration = step.duration_ms or 0
            cell.steps += 1
            cell.total_ms += duration
            if step.status == "error":
                cell.errors += 1
            cell.histogram.add(duration)
        runs = self._pending.runs
        on_finished = self._on_finished
        for row in finished:
            open_runs.pop(row.id, None)
            key = (row.started_at - row.started_at % HOUR_MS, row.workflow_id, row.trigger_type)
            run = runs.get(key)
            if run is None:
                run = runs[key] = RunCell()
            duration = row.duration_ms or 0
            run.runs += 1
            run.total_ms += duration
            run.histogram.add(duration)
            late = False
            if row.status == "success":
                run.successes += 1
            else:
                run.errors += 1
                late = timed_out(row.metadata)
                if late:
                    run.timeouts += 1
            if on_finished is not None:
                on_finished(row, late)
