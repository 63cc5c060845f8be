"""The runtime's recorder hooks, implemented: one ``RunRecorder`` per function run.

Each hook scrubs and encodes what it was given, queues the row on the :class:`HistoryWriter` and, when
someone is listening, publishes an execution event with the next ``seq``. Nothing here awaits; any
exception is logged and turns recording off for that run, so a logging failure never fails a run.

What is a step: each node update after the request entered the graph (the Request node's update that
receives it), numbered in the order nodes *start* (``step_index``); a node that runs again gets a new
step with the next ``run_index``. Not steps: the setup frame before the request, where every node
applies its parameters (recording it would mark nodes on branches that never ran as run), and updates
that consumed no input and sent no output. A failure is always a step; one reported after the node's
step ended (script errors arrive that way) turns that step into an error step with a new event.

Summary-only runs: when the writer's backlog is at its limit as a run starts (``HistoryWriter.summary_only``),
the run records its execution row alone, with ``metadata.summaryOnly = true``; its node updates are
counted (``steps_not_recorded``), not recorded, and publish no step events.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from sidecar.events import EventBus, EventKind, ExecutionEvent
from sidecar.history import event_build
from sidecar.history.payload import SEARCH_BODY_MAX_CHARS, Payload, encode, preview, to_json
from sidecar.history.rows import (
    ExecutionRow,
    ExecutionStatus,
    SearchText,
    StepData,
    StepRow,
    StepStatus,
    new_execution_id,
    now_ms,
)
from sidecar.history.scrub import Scrubber, is_request_shape
from sidecar.history.writer import HistoryWriter

# StepRow._make without its length check (the one call site builds the full tuple): a Python-level
# call less per step.
_make_step = functools.partial(tuple.__new__, StepRow)
_time_ns = time.time_ns
_perf_ns = time.perf_counter_ns
_EMPTY: tuple[StepData, int] = ("{}", 2)  # an update that consumed nothing: frequent, not worth encoding
_TIMED_OUT = "timed-out"
_CANCELLED = "cancelled"  # answers.Outcome.CANCELLED

log = structlog.get_logger()


@dataclass(frozen=True)
class RunTrigger:
    """How a run was started; becomes ``triggerType`` and ``metadata`` of its execution row."""

    trigger_type: str = "webhook"
    trigger_source: str | None = None
    trigger_id: str | None = None
    request_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """More metadata, e.g. ``{"retryOf": <executionId>}`` for a re-run."""


_WEBHOOK = RunTrigger()  # a run with no trigger details: one shared instance rather than one per run


@dataclass(slots=True)
class _OpenStep:
    """A node whose work has started; becomes a StepRow when it ends (one row build per step).

    ``step_index`` stays -1 while the step is tentative: an update with nothing queued is numbered
    (and announced) only once it sends something or fails."""

    execution_id: str
    node_id: str
    node_type: str
    node_name: str | None
    started_at: int
    started_ns: int
    input_data: StepData
    input_size: int
    step_index: int = -1
    run_index: int = 0
    start_seq: int = 0

    def row(
        self,
        status: str,
        seq: int,
        output: tuple[StepData, int] = (None, 0),
        error_message: str | None = None,
    ) -> StepRow:
        """The step at ``seq``; ``running`` has no end, the others end now."""
        ended = status != StepStatus.RUNNING
        # _make from a tuple in column order: one row per step on the run's hot path, and keyword
        # construction of an 18-field named tuple costs several times more.
        return _make_step(
            (
                f"step_{self.execution_id[5:]}_{self.step_index}",  # rows.step_id, inlined
                self.execution_id,
                self.node_id,
                self.node_type,
                self.step_index,
                self.started_at,
                status,
                self.node_name,
                _time_ns() // 1_000_000 if ended else None,  # completed_at (now_ms, inlined)
                (_perf_ns() - self.started_ns) // 1_000_000 if ended else None,  # duration_ms
                self.input_data,
                output[0],
                error_message,
                self.run_index,
                self.start_seq,
                seq,
                self.input_size,
                output[1],
            )
        )


class RunRecorder:
    """Implements ``sidecar.runtime.Recorder`` structurally, for exactly one run."""

    def __init__(
        self,
        writer: HistoryWriter,
        bus: EventBus | None,
        backend_id: str,
        metadata: dict[str, Any],
        trigger: RunTrigger,
        node_names: Mapping[str, str],
        *,
        metadata_json: str | None = None,
    ) -> None:
        """``metadata`` is never changed here (it may be shared); ``metadata_json`` is its JSON, if known."""
        self._writer = writer
        self._bus = bus
        self._backend_id = backend_id
        self._metadata = metadata
        self._trigger = trigger
        self._node_names = node_names
        self._scrubber = Scrubber()
        self._storable_as_is = self._scrubber.storable_as_is  # bound once: called for every step
        self._execution: ExecutionRow | None = None
        self._execution_id = ""  # its id, once the run started
        self._started_ns = 0
        self._metadata_json = metadata_json
        self._seq = 0
        self._step_count = 0
        self._runs_per_node: dict[str, int] = {}
        self._open: dict[str, _OpenStep] = {}
        self._last: dict[str, StepRow] = {}
        self._search: list[str] = []
        self._search_chars = 0
        self._request_sent = False
        self._request_scrubbed: dict[str, Payload] = {}  # request body → its scrubbed trigger data
        self._broken = False
        self._steps_off = True  # node hooks do nothing: before the start, summary-only, or broken
        self._summary_only = False
        # Model calls of the run (AI nodes): summed into the execution's metadata as ``aiUsage``.
        self._usage: dict[str, Any] = {"calls": 0, "inputTokens": 0, "outputTokens": 0}

    @property
    def execution_id(self) -> str | None:
        return None if self._execution is None else self._execution.id

    def current_node_id(self) -> str | None:
        """The canvas node at work: the latest step still open, else the node of the latest step that
        ended (a Wait parked on its timer, a Function awaiting). None before any step."""
        if self._open:
            return max(self._open.values(), key=lambda step: step.start_seq).node_id
        if self._last:
            return max(self._last.values(), key=lambda row: row.seq).node_id
        return None

    # ---- Recorder protocol -----------------------------------------------------------------------------
    def run_started(self, run_id: str, function: str, request: Mapping[str, Any]) -> None:
        try:
            self._run_started(function, request)
        except Exception as error:
            self._fail("run_started", error)

    def node_started(self, run_id: str, node_id: str, node_type: str, inputs: Mapping[str, Any]) -> None:
        if self._steps_off:
            return
        try:
            if self._request_sent:
                if not inputs:
                    data = _EMPTY
                elif self._storable_as_is(inputs):  # left for the writer to serialize (size -1)
                    data = (inputs, -1)
                else:
                    data = self._encoded(inputs)
            elif is_request_shape(inputs):
                data = self._request_data(inputs)
            else:
                return  # the setup frame: nodes apply their parameters before the request enters the graph
            # No running row for the writer: the runtime calls node_started and node_finished in one
            # synchronous stretch, so the writer could never commit it before the finished row replaces it.
            step = self._open[node_id] = _OpenStep(
                self._execution_id,
                node_id,
                node_type,
                self._node_names.get(node_id),
                _time_ns() // 1_000_000,
                _perf_ns(),
                *data,
            )
            if inputs:
                self._begin(step)
        except Exception as error:
            self._fail("node_started", error)

    def node_finished(self, run_id: str, node_id: str, node_type: str, outputs: Mapping[str, Any]) -> None:
        if self._steps_off:
            if self._summary_only and outputs:
                self._writer.steps_not_recorded += 1
            return
        try:
            step = self._open.pop(node_id, None)
            if step is None:
                return
            if step.step_index < 0:
                if not outputs:
                    return  # an update that consumed nothing and sent nothing is not a step
                self._begin(step)
            self._seq += 1
            output = (outputs, -1) if self._storable_as_is(outputs) else self._encoded(outputs)
            self._end_step(step.row(StepStatus.SUCCESS, self._seq, output=output))
        except Exception as error:
            self._fail("node_finished", error)

    def node_failed(self, run_id: str, node_id: str, node_type: str, error: str) -> None:
        if self._steps_off:
            if self._summary_only:
                self._writer.steps_not_recorded += 1
            return
        try:
            self._node_failed(node_id, node_type, error)
        except Exception as failure:
            self._fail("node_failed", failure)

    def node_progress(self, run_id: str, node_id: str, node_type: str, progress: Mapping[str, Any]) -> None:
        """Live only: an ``execution:step`` event of the open step with its ``progress`` (never stored)."""
        if self._steps_off or not self._listening():
            return
        step = self._open.get(node_id)
        if step is None or step.step_index < 0:
            return
        try:
            assert self._execution is not None
            event = event_build.step_progress_event(
                self._backend_id,
                self._execution.workflow_id,
                step.row(StepStatus.RUNNING, step.start_seq),
                self._scrubber.value(dict(progress)),
            )
            self._publish(event)
        except Exception as error:
            self._fail("node_progress", error)

    def run_usage(self, run_id: str, input_tokens: int, output_tokens: int, cost: float | None) -> None:
        usage = self._usage
        usage["calls"] += 1
        usage["inputTokens"] += input_tokens
        usage["outputTokens"] += output_tokens
        if cost is not None:
            usage["cost"] = round(usage.get("cost", 0.0) + cost, 8)

    def run_finished(self, run_id: str, status_code: int, body: str, outcome: str) -> None:
        if self._execution is None or self._broken:
            return
        try:
            self._run_finished(status_code, body, outcome)
        except Exception as error:
            self._fail("run_finished", error)

    # ---- implementation --------------------------------------------------------------------------------
    def _run_started(self, function: str, request: Mapping[str, Any]) -> None:
        body = str(request.get("body") or "")
        if self._writer.summary_only():
            self._summary_only = True
            self._writer.summary_runs += 1
            self._metadata = {**self._metadata, "summaryOnly": True}
            self._metadata_json = None
        if self._metadata_json is None:
            self._metadata_json = to_json(self._metadata)
        trigger_data = encode(self._scrubber.request(request.get("headers") or {}, body))
        self._request_scrubbed = {body: trigger_data}
        self._started_ns = time.perf_counter_ns()
        self._seq = event_build.STARTED_SEQ
        row = ExecutionRow(
            id=new_execution_id(),
            workflow_id=function,
            workflow_name=function,
            trigger_type=self._trigger.trigger_type,
            status=ExecutionStatus.RUNNING,
            started_at=now_ms(),
            trigger_data=trigger_data.text,
            metadata=self._metadata_json,
            last_seq=self._seq,
        )
        self._execution = row
        self._execution_id = row.id
        self._steps_off = self._summary_only
        self._writer.submit_execution(row)
        if self._listening():
            self._publish_started(row)

    def _request_data(self, inputs: Mapping[str, Any]) -> tuple[StepData, int]:
        """The Request node's input: the run's own request, already scrubbed at run start."""
        self._request_sent = True
        payload = self._request_scrubbed.get(inputs["body"])
        if payload is None:
            payload = encode(self._scrubber.request(inputs["headers"], inputs["body"]))
        return payload.text, payload.size

    def _encoded(self, value: Mapping[str, Any]) -> tuple[StepData, int]:
        """Step data that is not storable as is (``Scrubber.storable_as_is``, which most small flat dicts of
        port values are: the writer serializes those with its batch), scrubbed and encoded now."""
        payload = encode(self._scrubber.value(value))
        return payload.text, payload.size

    def _open_step(self, node_id: str, node_type: str, data: tuple[StepData, int]) -> _OpenStep:
        assert self._execution is not None
        node_name = self._node_names.get(node_id)
        return _OpenStep(
            self._execution.id, node_id, node_type, node_name, now_ms(), time.perf_counter_ns(), *data
        )

    def _begin(self, step: _OpenStep) -> None:
        """Number the step in execution order and announce it."""
        step.step_index = self._step_count
        self._step_count += 1
        step.run_index = self._runs_per_node.get(step.node_id, 0)
        self._runs_per_node[step.node_id] = step.run_index + 1
        self._seq += 1
        step.start_seq = self._seq
        if self._bus is not None and self._bus.listening:  # _listening, inlined: every step
            self._publish_step(event_build.step_started_event, step.row(StepStatus.RUNNING, self._seq))

    def _node_failed(self, node_id: str, node_type: str, error: str) -> None:
        message = self._scrubber.text(error)
        step = self._open.pop(node_id, None)
        if step is None and node_id in self._last:
            self._seq += 1
            row = self._last[node_id]._replace(status=StepStatus.ERROR, error_message=message, seq=self._seq)
        else:
            # A failure is always a step, even in the setup frame or before any reported start.
            step = step or self._open_step(node_id, node_type, _EMPTY)
            if step.step_index < 0:
                self._begin(step)
            self._seq += 1
            row = step.row(StepStatus.ERROR, self._seq, error_message=message)
        self._end_step(row)
        self._note_search(message)

    def _end_step(self, row: StepRow) -> None:
        self._last[row.node_id] = row
        self._writer.submit_step(row)
        if self._bus is not None and self._bus.listening:  # _listening, inlined: every step
            self._publish_step(event_build.step_ended_event, row)

    def _run_finished(self, status_code: int, body: str, outcome: str) -> None:
        assert self._execution is not None
        cancelled_at = _answer_field(body, "nodeId") if outcome == _CANCELLED else None
        unfinished = "Run cancelled before the node finished" if outcome == _CANCELLED else None
        for node_id in list(self._open):  # a node still open when the run settled never finished its work
            self._node_failed(
                node_id, self._open[node_id].node_type, unfinished or "Run ended before the node finished"
            )
        ok = 200 <= status_code < 300
        error_text = None if ok else _error_text(status_code, body)
        metadata_json = self._metadata_json  # unchanged for a run that responded
        if outcome != "responded" or self._usage["calls"]:
            metadata = dict(self._metadata)
            if self._usage["calls"]:
                metadata["aiUsage"] = self._usage
            if outcome == _TIMED_OUT:
                metadata.update(timedOut=True, disposition="timeout", timeoutMs=_timeout_ms(body))
            elif outcome != "responded":
                metadata["disposition"] = outcome
            if cancelled_at is not None:
                metadata["cancelledNodeId"] = cancelled_at
            metadata_json = to_json(metadata)
        if outcome == _CANCELLED:
            status = ExecutionStatus.CANCELLED
        else:
            status = ExecutionStatus.SUCCESS if ok else ExecutionStatus.ERROR
        self._seq += 1
        started = self._execution
        row = ExecutionRow._make(  # _replace, spelled out: it costs several times more
            (
                started.id,
                started.workflow_id,
                started.workflow_name,
                started.trigger_type,
                status,
                started.started_at,
                started.trigger_data,
                _time_ns() // 1_000_000,  # completed_at
                (_perf_ns() - self._started_ns) // 1_000_000,  # duration_ms
                None if error_text is None else self._scrubber.text(error_text),
                started.error_stack,
                metadata_json,
                self._seq,
            )
        )
        self._execution = row
        self._writer.submit_execution(row)
        if row.error_message:
            self._note_search(row.error_message)
        # The writer adds the previews of the steps' outputs to these error texts.
        self._writer.submit_search(SearchText(row.id, "\n".join(self._search)))
        if self._listening():
            self._publish(event_build.finished_event(self._backend_id, row))

    def publish_paused(self, data: dict[str, Any]) -> None:
        """A test run paused at a breakpoint (``sidecar.debugging.session``): ``execution:paused`` with
        the node and its pending inputs, at the run's current ``seq`` (a pause is no stored event)."""
        row = self._execution
        if row is None or self._broken or not self._listening():
            return
        self._publish(
            ExecutionEvent(EventKind.PAUSED, self._backend_id, row.id, row.workflow_id, self._seq, data)
        )

    # ---- helpers --------------------------------------------------------------------------------------
    def _note_search(self, text: str | None) -> None:
        if text and self._search_chars < SEARCH_BODY_MAX_CHARS:
            piece = preview(text)
            self._search.append(piece)
            self._search_chars += len(piece)

    def _listening(self) -> bool:
        bus = self._bus
        return bus is not None and bus.listening

    def _publish_started(self, row: ExecutionRow) -> None:
        self._publish(event_build.started_event(self._backend_id, row))

    def _publish_step(self, build: Callable[[str, str, StepRow], ExecutionEvent], row: StepRow) -> None:
        assert self._execution is not None
        self._publish(build(self._backend_id, self._execution.workflow_id, row))

    def _publish(self, event: ExecutionEvent) -> None:
        assert self._bus is not None
        self._bus.publish(event)

    def _fail(self, hook: str, error: Exception) -> None:
        self._broken = self._steps_off = True
        log.error("execution recording failed; this run is no longer recorded", hook=hook, error=repr(error))


def _error_text(status_code: int, body: str) -> str:
    """``HTTP <code>`` as the contract says, followed by the body's ``error`` text when there is one."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    detail = parsed.get("error") if isinstance(parsed, dict) else None
    return f"HTTP {status_code}: {detail}" if isinstance(detail, str) and detail else f"HTTP {status_code}"


def _timeout_ms(body: str) -> int | None:
    value = _answer_field(body, "timeoutMs")
    return value if isinstance(value, int) else None


def _answer_field(body: str, name: str) -> Any:
    """One field of a run's JSON answer (the timeout's ``timeoutMs``, a cancel's ``nodeId``)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed.get(name) if isinstance(parsed, dict) else None


class HistoryRecorder:
    """Per backend: hands each run its own :class:`RunRecorder`."""

    def __init__(
        self, writer: HistoryWriter, bus: EventBus | None, *, backend_id: str, backend_name: str
    ) -> None:
        self._writer = writer
        self._bus = bus
        self._backend_id = backend_id
        self._backend_name = backend_name
        # Most runs carry only these: their metadata, and its JSON, are shared rather than rebuilt per run.
        self._base_metadata = {"backendId": backend_id, "backendName": backend_name}
        self._base_metadata_json = to_json(self._base_metadata)
        self._by_language: dict[str, tuple[dict[str, Any], str]] = {}

    def record_rejection(self, rejection: RejectedFire) -> str:
        """Queue the failed row of a rejected trigger fire and announce it; returns the execution id."""
        base = {"backendId": self._backend_id, "backendName": self._backend_name}
        row = rejection_row(rejection, base)
        self._writer.submit_execution(row)
        self._writer.submit_search(SearchText(row.id, row.error_message or ""))
        if self._bus is not None and self._bus.subscriber_count:
            self._bus.publish(event_build.started_event(self._backend_id, row))
            self._bus.publish(event_build.finished_event(self._backend_id, row))
        return row.id

    def for_run(
        self,
        trigger: RunTrigger | None = None,
        node_names: Mapping[str, str] | None = None,
        language: str | None = None,
    ) -> RunRecorder:
        """``node_names`` maps canvas node ids to labels (``node_name``); the hooks do not carry labels.
        ``language``: the workflow's (``javascript``, ``python``), kept as ``metadata.language``."""
        trigger = trigger or _WEBHOOK
        names = node_names or {}
        base, base_json = self._base(language)
        if _plain_trigger(trigger):
            return RunRecorder(
                self._writer, self._bus, self._backend_id, base, trigger, names, metadata_json=base_json
            )
        metadata: dict[str, Any] = dict(base)
        optional = {
            "triggerSource": trigger.trigger_source,
            "triggerId": trigger.trigger_id,
            "requestId": trigger.request_id,
        }
        metadata.update({key: value for key, value in optional.items() if value is not None})
        metadata.update(trigger.extra)
        return RunRecorder(self._writer, self._bus, self._backend_id, metadata, trigger, names)

    def _base(self, language: str | None) -> tuple[dict[str, Any], str]:
        if language is None:
            return self._base_metadata, self._base_metadata_json
        shared = self._by_language.get(language)
        if shared is None:
            metadata = {**self._base_metadata, "language": language}
            shared = self._by_language[language] = (metadata, to_json(metadata))
        return shared


class RejectedFire(Protocol):
    """A trigger fire that never reached its target (``sidecar.triggers.Rejection`` fits)."""

    @property
    def kind(self) -> str: ...
    @property
    def trigger_id(self) -> str: ...
    @property
    def workflow_id(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def status_code(self) -> int: ...
    @property
    def trigger_data(self) -> Mapping[str, Any]: ...


def _plain_trigger(trigger: RunTrigger) -> bool:
    return (
        trigger.trigger_source is None
        and trigger.trigger_id is None
        and trigger.request_id is None
        and not trigger.extra
    )


def rejection_row(rejection: RejectedFire, base_metadata: Mapping[str, Any]) -> ExecutionRow:
    """The failed row of a rejected fire: ``metadata.rejected = true``, nothing dropped."""
    at = now_ms()
    metadata = {
        **base_metadata,
        "triggerSource": rejection.source,
        "triggerId": rejection.trigger_id,
        "rejected": True,
    }
    return ExecutionRow(
        id=new_execution_id(at),
        workflow_id=rejection.workflow_id,
        workflow_name=rejection.workflow_id,
        trigger_type=str(rejection.kind),
        status=ExecutionStatus.ERROR,
        started_at=at,
        trigger_data=encode(Scrubber().value(rejection.trigger_data)).text,
        completed_at=at,
        duration_ms=0,
        error_message=f"HTTP {rejection.status_code}: {rejection.reason}",
        metadata=to_json(metadata),
        last_seq=event_build.STARTED_SEQ + 1,
    )
