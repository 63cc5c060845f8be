"""What every AI node shares: inputs kept by name, one awaited call per ``run``, one step per call.

A call starts when ``run`` is signalled (after the frame's other inputs arrive) and ends when its work
returns: the node's history step lasts that long and carries what the node sent, as an awaiting
Function's does. Success sets the outputs the work returned and sends ``done``; failure sets ``error``,
sends ``failure`` and marks the step failed. The run's end (its response, time limit or a cancel)
cancels the call, which closes any HTTP stream it holds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping
from typing import Any, ClassVar

import structlog

from sidecar.ai.chat import AiCallError
from sidecar.ai.port import AiPort
from sidecar.ai.vectors import VectorStoreError
from sidecar.errors import CredentialNotFoundError, SidecarError
from sidecar.runtime.node import Node
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.recorder import Recorder
from sidecar.runtime.values import UNDEFINED

CATEGORY = "AI"
PROGRESS_INTERVAL_SECONDS = 0.05
"""Streamed text reaches the editor at most 20 times a second per step; the rest is coalesced."""
EXPECTED_FAILURES = (AiCallError, VectorStoreError, CredentialNotFoundError, SidecarError, ValueError)

log = structlog.get_logger("sidecar.ai")


def field(
    name: str,
    type_: Any = "*",
    default: Any = UNDEFINED,
    display: str | None = None,
    group: str | None = None,
) -> InputSpec:
    """An input whose value the node keeps in ``fields[name]``."""
    return InputSpec(
        name,
        type_,
        set=lambda node, value: node.fields.__setitem__(name, value),
        default=default,
        display_name=display,
        group=group,
    )


def result(name: str, type_: Any = "*", display: str | None = None) -> OutputSpec:
    """An output read from ``results[name]``."""
    return OutputSpec(name, type_, get=lambda node: node.results.get(name, UNDEFINED), display_name=display)


EVENTS = (
    OutputSpec("done", "signal", display_name="Done", group="Events"),
    OutputSpec("failure", "signal", display_name="Failure", group="Events"),
)


class AiNode(Node):
    """Base of the AI nodes; subclasses implement :meth:`work`."""

    CATEGORY = CATEGORY
    DEFAULTS: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.fields: dict[str, Any] = dict(self.DEFAULTS)
        self.results: dict[str, Any] = {}
        self._scheduled = False
        self._step_open = False  # this node's recorded step stays open until its call ends
        self._last_progress = 0.0
        self._pending_progress: Mapping[str, Any] | None = None
        self._progress_timer: asyncio.TimerHandle | None = None

    # ---- what subclasses use ------------------------------------------------------------------------
    def work(self) -> Awaitable[dict[str, Any]]:
        """The call: returns the outputs to set (by output name)."""
        raise NotImplementedError

    @property
    def ai(self) -> AiPort:
        port = self.ctx.services.ai
        if port is None:
            raise AiCallError("AI nodes need a backend (this runtime was started without one)")
        return port

    def text(self, name: str, fallback: str = "") -> str:
        value = self.fields.get(name, UNDEFINED)
        return fallback if value is UNDEFINED or value is None else str(value)

    def number(self, name: str, fallback: float | None) -> float | None:
        value = self.fields.get(name, UNDEFINED)
        if isinstance(value, bool) or value is UNDEFINED or value is None or value == "":
            return fallback
        try:
            return float(value)
        except (TypeError, ValueError):
            raise AiCallError(f"{name} must be a number, not {value!r}") from None

    def timeout_seconds(self) -> float:
        """What is left of the run's time limit (the SDKs get it as their own timeout)."""
        left = self.ctx.time_left()
        return 60.0 if left is None else max(0.1, left)

    def progress(self, data: Mapping[str, Any], *, final: bool = False) -> None:
        """Tell the editor how the call is going (streamed text so far): at once when the last event is
        50 ms old, else once that window ends, with the newest ``data`` (at most 20 events a second)."""
        if self.ctx.step_recorder is None or not self._step_open or self.ctx.settled:
            return
        self._pending_progress = data
        wait = self._last_progress + PROGRESS_INTERVAL_SECONDS - time.monotonic()
        if final or wait <= 0:
            self._send_progress()
        elif self._progress_timer is None:
            self._progress_timer = self.ctx.loop.call_later(wait, self._send_progress)

    def _send_progress(self) -> None:
        if self._progress_timer is not None:
            self._progress_timer.cancel()
            self._progress_timer = None
        data, self._pending_progress = self._pending_progress, None
        recorder = self.ctx.step_recorder
        if data is None or recorder is None or not self._step_open or self.ctx.settled or self.deleted:
            return
        self._last_progress = time.monotonic()
        recorder.node_progress(self.ctx.run_id, self.id, self.type_name, data)

    def child_recorder(self) -> Recorder | None:
        """The recorder for steps this node makes on its own (an agent's model and tool calls)."""
        return self.ctx.step_recorder

    # ---- the call -----------------------------------------------------------------------------------------
    def _on_run(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.schedule_after_inputs(self._start)

    def _start(self) -> None:
        self._scheduled = False
        self._step_open = self._recorded_outputs is not None
        try:
            call = self.work()
        except EXPECTED_FAILURES as error:
            self._finish(None, error)
            return
        self.ctx.spawn(call, self._finish, owner=self.id)

    def _finish(self, outputs: Any, error: BaseException | None) -> None:
        if self.deleted:
            return
        if error is not None:
            self._failed(error)
        else:
            self._count_usage(outputs)
            self.results.update(outputs)
            for name in outputs:
                self.flag_output_dirty(name)
            self.send_signal("done")
        self._close_step()

    def _count_usage(self, outputs: Mapping[str, Any]) -> None:
        """Tokens and cost of a model call go on the execution too (summed as ``aiUsage``)."""
        usage = outputs.get("usage")
        recorder = self.ctx.recorder
        if recorder is None or not isinstance(usage, dict):
            return
        cost = outputs.get("cost")
        recorder.run_usage(
            self.ctx.run_id,
            int(usage.get("inputTokens", 0)),
            int(usage.get("outputTokens", 0)),
            cost if isinstance(cost, float) else None,
        )

    def _failed(self, error: BaseException) -> None:
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        if not isinstance(error, EXPECTED_FAILURES):
            log.error("AI node failed", node_id=self.id, node_type=self.type_name, error=repr(error))
        self.results["error"] = message
        self.flag_output_dirty("error")
        self.send_signal("failure")
        recorder = self.ctx.step_recorder
        if recorder is not None and self._step_open:
            self._step_open = False
            self._recorded_outputs = None
            recorder.node_failed(self.ctx.run_id, self.id, self.type_name, message)

    def _close_step(self) -> None:
        if self._progress_timer is not None:
            self._progress_timer.cancel()
            self._progress_timer = None
        if self._step_open:
            self._step_open = False
            if self.ctx.step_recorder is not None and self._recorded_outputs is not None:
                self.ctx.note_node_end(self)

    # ---- keeping the step open across the await (as the Function node does) ------------------------------
    def _begin_update(self) -> Recorder | None:
        if self._step_open:  # a new update while a call is out: the open step ends with what it has
            self._close_step()
        return super()._begin_update()

    def _end_update(self, recorder: Recorder | None) -> None:
        if recorder is not None and self._step_open:
            return
        super()._end_update(recorder)
