"""The Python side of the script bridge: replay scripts' effects, serve their host requests.

Scripts cannot call into Python while they run (see ``jsengine``), so each call returns effects:
output writes and signals of script nodes, changed objects, and host requests
(``Noodl.Records.*``, ``fetch``) that are started here and settle the script's promise in a later loop turn.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from sidecar.errors import ScriptError
from sidecar.runtime.context import RunContext
from sidecar.runtime.jsengine import (
    MEMORY_LIMIT_MESSAGE,
    TIME_LIMIT_MESSAGE,
    Effects,
    JsRunState,
    decode_value,
)
from sidecar.runtime.records_api import script_records_call
from sidecar.runtime.script_fetch import script_fetch

log = structlog.get_logger()


def start_host_call(ctx: RunContext, call_id: int, op: str, args: Any) -> None:
    """Start the service call ``op``; its result settles the script's promise in a later frame."""
    work: Awaitable[Any] | None = None
    error: str | None = None
    records = ctx.services.records
    if op.startswith("records.") and records is not None:
        work = script_records_call(ctx, records, op[len("records.") :], args)
    elif op.startswith("records."):
        error = "Noodl.Records is not available: this backend has no record store"
    elif op == "fetch":
        work = script_fetch(ctx, args)
    else:
        error = f"unknown host call {op}"
    if work is None:
        ctx.call_soon(_settle, ctx, call_id, False, error)
        return

    def done(result: Any, failure: BaseException | None) -> None:
        if failure is None:
            _settle(ctx, call_id, True, result)
        else:
            _settle(ctx, call_id, False, getattr(failure, "message", None) or str(failure))

    ctx.spawn(work, done)


def _settle(ctx: RunContext, call_id: int, ok: bool, value: Any) -> None:
    if ctx.settled:
        return
    settle: Callable[..., Any] = ctx.services.js.settle_host_call
    try:
        effects = settle(ctx, call_id, ok, value)
    except ScriptError as failure:
        ctx.reject(failure.message)
        return
    apply_effects(ctx, effects)


def start_timer(ctx: RunContext, timer_id: int, delay_ms: int) -> None:
    """A script's setTimeout/setInterval: one event loop timer (no thread), fired on the run's strand."""
    state: JsRunState | None = ctx.js_state
    if state is None:
        return
    previous = state.timers.pop(timer_id, None)
    if previous is not None:
        previous.cancel()
    ctx.deferred += 1  # work handed to the loop (see RunContext.run_frames_now)
    state.timers[timer_id] = ctx.loop.call_later(delay_ms / 1000, ctx.strand.run, _fire_timer, ctx, timer_id)


def clear_timer(ctx: RunContext, timer_id: int) -> None:
    state: JsRunState | None = ctx.js_state
    handle = state.timers.pop(timer_id, None) if state is not None else None
    if handle is not None:
        handle.cancel()


def _fire_timer(ctx: RunContext, timer_id: int) -> None:
    state: JsRunState | None = ctx.js_state
    if ctx.settled or state is None:
        return
    state.timers.pop(timer_id, None)
    try:
        effects = ctx.services.js.fire_timer(ctx, timer_id)
    except ScriptError as failure:
        ctx.reject(failure.message)
        return
    apply_effects(ctx, effects)


def apply_effects(ctx: RunContext, effects: Effects) -> None:
    """Replay what scripts did, in order: object changes first, then outputs, signals, host calls."""
    for model_id, data in effects.models.items():
        model = ctx.models.get(model_id)
        for key, value in data.items():
            model.set(key, value)
        ctx.models.changed.discard(model_id)
    for effect in effects.effects:
        if ctx.settled:
            return
        kind = effect[0]
        if kind == "log":
            node = ctx.script_nodes.get(effect[1]) if effect[1] is not None else None
            ctx.script_log(node, effect[2], effect[3], effect[4])
            continue
        if kind == "timer":
            start_timer(ctx, effect[1], effect[2])
            continue
        if kind == "cleartimer":
            clear_timer(ctx, effect[1])
            continue
        if kind == "host":
            start_host_call(ctx, effect[1], effect[2], decode_value(effect[3], ctx))
            continue
        node = ctx.script_nodes.get(effect[1])
        if node is None or node.deleted:
            continue
        if kind == "mutate":
            inputs = getattr(node, "inputs", None)  # Function nodes: the values they were handed
            if isinstance(inputs, dict):
                _change_in_place(ctx, inputs.get(effect[2]), decode_value(effect[3], ctx))
        elif kind == "done":
            finished = getattr(node, "script_finished", None)  # Function nodes: the call's step ends
            if finished is not None:
                finished(effect[2])
        elif kind == "put":  # a JSON primitive, already decoded with the effects
            node.set_script_output(effect[2], effect[3])
        elif kind == "set":  # anything else, as the prelude's encode wrote it
            node.set_script_output(effect[2], decode_value(effect[3], ctx))
        elif kind == "signal":
            node.send_signal("out-" + effect[2])
        elif kind == "limit":
            ctx.reject(MEMORY_LIMIT_MESSAGE if effect[2] == "out of memory" else TIME_LIMIT_MESSAGE)
            return
        elif kind == "error":
            log.warning("Error in JS node run code.", node_id=node.id, error=effect[2])
            ctx.report_node_error(node, effect[2], effect[3] if len(effect) > 3 else None)


def _change_in_place(ctx: RunContext, shared: Any, changed: Any) -> None:
    """Make the object other nodes hold look like the script's changed copy of it (see the prelude's
    ``watchInputs``): the same dict or list, its contents replaced. Never a value of the export's
    parameters: every run starts from those (the real runner's one global scope would keep the
    change for later requests; runs here stay apart)."""
    if not isinstance(shared, dict | list) or type(shared) is not type(changed):
        return
    if _in_export_parameters(ctx, shared):
        return
    if isinstance(shared, dict):
        shared.clear()
        shared.update(changed)
    else:
        shared[:] = changed


def _in_export_parameters(ctx: RunContext, target: Any) -> bool:
    # Walked only when a script has changed an object input, which is rare.
    pending: list[Any] = [
        value
        for component in ctx.services.export.components.values()
        for node_def in component.walk_nodes()
        for value in node_def.parameters.values()
        if isinstance(value, dict | list)
    ]
    while pending:
        value = pending.pop()
        if value is target:
            return True
        items = value.values() if isinstance(value, dict) else value
        pending.extend(item for item in items if isinstance(item, dict | list))
    return False
