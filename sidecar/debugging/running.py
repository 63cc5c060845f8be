"""The runs in progress of one backend, by execution id, and their cancellation (``execution:cancel``).

Every recorded function run (HTTP, webhook, trigger, ``function:run``, re-run) is registered here for
as long as it runs (``sidecar.backends.functions.run_bundle``). Cancelling settles the run with the
``function/cancelled`` answer (``sidecar.runtime.answers.cancelled``, HTTP 499): settlement is the
runtime's one way to end a run, so it tears the run down as a timeout does — its nodes (child
components of For Each, Try/Catch and Retry included) are deleted, its frames dropped, its pending
tasks (Wait timers, store and HTTP calls) cancelled and its JavaScript state released — and its
caller is answered at once. The history then records status ``cancelled`` with ``cancelledNodeId``,
the node that was at work: the node whose pending task (a Wait's timer, a store or HTTP call) was
started last, else the node of the run's latest step (a Function awaiting inside its script).
Runs are known by execution id, which the history gives: a backend whose history is off records no
execution and so has no run to cancel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sidecar.history.recorder import RunRecorder
    from sidecar.runtime.context import RunContext


@dataclass(frozen=True)
class RunningRun:
    execution_id: str
    ctx: RunContext
    recorder: RunRecorder


class RunningExecutions:
    def __init__(self) -> None:
        self._runs: dict[str, RunningRun] = {}
        # Pinned node outputs per function (``debug:set-pins``), used by test runs only; kept in memory
        # for the session, as the editor's canvas state is.
        self.saved_pins: dict[str, dict[str, dict[str, Any]]] = {}
        from sidecar.debugging.pin_cache import PinCache

        self.pin_cache = PinCache()  # overlays of finished executions (execution:pin)

    def watcher(self, recorder: RunRecorder) -> Callable[[RunContext], None]:
        """The ``on_start`` to pass to ``Runtime.run`` for a run recorded by ``recorder``."""

        def started(ctx: RunContext) -> None:
            execution_id = recorder.execution_id
            if execution_id is not None:
                self._runs[execution_id] = RunningRun(execution_id, ctx, recorder)

        return started

    def ended(self, recorder: RunRecorder) -> None:
        """Forget the run (call when ``Runtime.run`` returned or raised)."""
        execution_id = recorder.execution_id
        if execution_id is not None:
            self._runs.pop(execution_id, None)

    def __contains__(self, execution_id: object) -> bool:
        run = self._runs.get(execution_id) if isinstance(execution_id, str) else None
        return run is not None and not run.ctx.settled

    def ids(self) -> list[str]:
        return [execution_id for execution_id, run in self._runs.items() if not run.ctx.settled]

    def debug_session(self, execution_id: str) -> Any:
        """The debugger of a running test run, None when the run is not here or has none."""
        run = self._runs.get(execution_id)
        return None if run is None or run.ctx.settled else run.ctx.debug

    def cancel(self, execution_id: str) -> dict[str, Any] | None:
        """Stop the run: ``{cancelled: true, executionId, nodeId?}``; None when it is not running here."""
        run = self._runs.get(execution_id)
        if run is None or run.ctx.settled:
            return None
        from sidecar.runtime import answers

        node_id = run.ctx.waiting_node() or run.recorder.current_node_id()
        if not run.ctx.settle(answers.cancelled(run.ctx.function, node_id)):
            return None
        result: dict[str, Any] = {"cancelled": True, "executionId": execution_id}
        if node_id is not None:
            result["nodeId"] = node_id
        return result
