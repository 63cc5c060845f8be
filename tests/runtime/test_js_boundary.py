"""The engine boundary: how often a run crosses into QuickJS, and what the per-context parts keep.

A Function call opens its run's state and mirrors the objects Python changed inside the one prelude call
that runs the script (no call of their own), and a node's ``Outputs`` and ``console`` objects are made
once per context and node. These tests hold the crossings to that count, and check that the shared
objects keep nothing of one run for the next.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from sidecar.runtime import JsEngine, Runtime, jsthreads, make_request
from sidecar.runtime.jsthreads import ContextShape, JsThreads
from tests.runtime.graphs import component, conn, export, function_node, node, request_node, response_node

# Prelude calls besides a run's script calls: compiling a script (once per context) and closing a run
# (on its context's worker after the run ends, so it may be counted with the next run).
_NOT_A_RUNS = frozenset({"compileFunction", "compileExpression", "compileScript", "closeRun"})


class _CountingApi(dict[str, Any]):
    """A context's prelude functions, each call noted by name in ``calls``."""

    def __init__(self, api: dict[str, Any], calls: list[str]) -> None:
        super().__init__(api)
        self._calls = calls

    def __getitem__(self, name: str) -> Callable[..., Any]:
        function = super().__getitem__(name)
        calls = self._calls

        def counted(*args: Any) -> Any:
            calls.append(name)
            return function(*args)

        return counted


@pytest.fixture
def prelude_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the prelude functions called by runs, in order, for an engine made in the test."""
    calls: list[str] = []
    made = jsthreads.new_context

    def counting_context(shape: ContextShape, prelude: str) -> tuple[Any, dict[str, Any]]:
        context, api = made(shape, prelude)
        return context, _CountingApi(api, calls)

    monkeypatch.setattr(jsthreads, "new_context", counting_context)
    return calls


def _engine() -> JsEngine:
    return JsEngine(threads=JsThreads(1))  # contexts made after the fixture took new_context


def _function_export(script: str) -> dict[str, Any]:
    return export(
        component(
            "fn",
            [
                request_node(params="text"),
                function_node(script, outputs=("out",)),
                response_node(params="out"),
            ],
            [
                conn("req", "pm-text", "fn", "in-text"),
                conn("req", "receive", "fn", "run"),
                conn("fn", "out-out", "resp", "pm-out"),
                conn("fn", "out-Done", "resp", "send"),
            ],
        )
    )


def _run_calls(calls: list[str]) -> list[str]:
    return [name for name in calls if name not in _NOT_A_RUNS]


async def test_a_function_run_crosses_once_to_run_its_script_and_once_to_close(
    prelude_calls: list[str],
) -> None:
    runtime = Runtime.from_export(
        _function_export("Outputs.out = Inputs.text + '!'; Outputs.Done();"), js=_engine()
    )
    runs = 25  # past the runs after which a function's scripts move onto the loop thread
    for index in range(runs):
        before = len(prelude_calls)
        response = await runtime.run("fn", make_request({"text": f"t{index}"}))
        assert response.body == json.dumps({"result": {"out": f"t{index}!"}}, separators=(",", ":"))
        # No openRun or syncModels of their own: the run opens inside its script's call.
        assert _run_calls(prelude_calls[before:]) == ["runFunction"], prelude_calls[before:]
    assert prelude_calls.count("closeRun") <= runs


async def test_objects_are_mirrored_inside_the_call_that_needs_them(prelude_calls: list[str]) -> None:
    # The request's object and the task items' objects reach the scripts with their calls.
    script = "Outputs.out = Noodl.Objects['Request'].Parameters.text; Outputs.Done();"
    runtime = Runtime.from_export(_function_export(script), js=_engine())
    for text in ("a", "b", "c"):
        prelude_calls.clear()
        response = await runtime.run("fn", make_request({"text": text}))
        assert json.loads(response.body) == {"result": {"out": text}}
        assert "syncModels" not in prelude_calls, prelude_calls
        assert "openRun" not in prelude_calls, prelude_calls


# A polluter stores what it was sent on every part of its Outputs and console objects it can reach; a
# reader with the same node key and signals (so the same cached objects in a reused context) looks. The
# polluter's text avoids the words that mark an export as changing built-ins (its runs would then get
# contexts of their own, used once: jsengine.may_change_builtins).
_POLLUTE = """
const kept = Inputs.text;
const attempts = [
  () => { Outputs.kept = kept; },
  () => { Object.defineProperties(Outputs, { kept: { value: kept, enumerable: true } }); },
  () => { Outputs.Done.kept = kept; },
  () => { Object['setProto' + 'typeOf'](Outputs, { kept: kept }); },
  () => { console.kept = kept; },
  () => { console.log.kept = kept; },
  () => { console.log = function () { return kept; }; },
];
for (const attempt of attempts) { try { attempt(); } catch (e) {} }
Outputs.out = 'polluted'; Outputs.Done();
"""
_LOOK = """
Outputs.out = [Outputs.kept, Object.keys(Outputs).filter((k) => k !== 'Done'), Outputs.Done.kept,
  console.kept, console.log.kept, String(console.log()), ({}).kept === undefined].map((v) => String(v));
Outputs.Done();
"""


async def test_what_a_run_puts_on_its_outputs_or_console_never_reaches_a_later_run() -> None:
    engine = JsEngine(threads=JsThreads(1))  # one worker: later runs take the contexts earlier ones used
    polluter = Runtime.from_export(_function_export(_POLLUTE), js=engine)
    reader = Runtime.from_export(_function_export(_LOOK), js=engine)
    assert not polluter.services.js_changes_builtins
    for index in range(30):
        assert json.loads((await polluter.run("fn", make_request({"text": f"secret{index}"}))).body) == {
            "result": {"out": "polluted"}
        }
        answer = json.loads((await reader.run("fn", make_request({"text": "x"}))).body)
        assert answer == {
            "result": {"out": ["undefined", "", "undefined", "undefined", "undefined", "undefined", "true"]}
        }, index


async def test_outputs_written_after_an_await_and_by_timers_still_reach_their_own_run() -> None:
    # Outputs objects are shared per context and write into the run the context serves: the writes
    # after an await and from a timer belong to that run.
    script = (
        "await new Promise((resolve) => setTimeout(resolve, 5));\n"
        "Outputs.out = Inputs.text;\n"
        "setTimeout(() => { console.log('late', Inputs.text); Outputs.Done(); }, 1);\n"
    )
    runtime = Runtime.from_export(_function_export(script), js=JsEngine())
    for index in range(25):
        response = await runtime.run("fn", make_request({"text": f"v{index}"}))
        assert json.loads(response.body) == {"result": {"out": f"v{index}"}}


_ADD_SCRIPT = "const t = Noodl.Objects['t']; t.sum = (t.sum || 0) + Inputs.value; Outputs.Success();"


async def test_run_tasks_mirror_only_new_objects_and_call_once_per_task(prelude_calls: list[str]) -> None:
    task = {
        "name": "/#__cloud__/lib/Add",
        "ports": [
            {"name": "Do", "type": "signal", "plug": "input"},
            {"name": "value", "type": "*", "plug": "input"},
            {"name": "Success", "type": "signal", "plug": "output"},
        ],
        "roots": [],
        "nodes": [
            node("ci", "Component Inputs"),
            node(
                "add",
                "JavaScriptFunction",
                {"functionScript": _ADD_SCRIPT},
                ports=[
                    {"name": "in-value", "plug": "input", "type": "*"},
                    {"name": "out-Success", "plug": "output", "type": "signal"},
                ],
            ),
            node("co", "Component Outputs"),
        ],
        "connections": [
            conn("ci", "value", "add", "in-value"),
            conn("ci", "Do", "add", "run"),
            conn("add", "out-Success", "co", "Success"),
        ],
    }
    graph = export(
        task,
        component(
            "tasks",
            [
                request_node(params="items"),
                node("run", "RunTasks", {"taskTemplate": "/#__cloud__/lib/Add", "maxRunningTasks": 2}),
                function_node("Outputs.out = Noodl.Objects['t'].sum; Outputs.Done();", outputs=("out",)),
                response_node(params="out"),
            ],
            [
                conn("req", "pm-items", "run", "items"),
                conn("req", "receive", "run", "run"),
                conn("run", "done", "fn", "run"),
                conn("fn", "out-out", "resp", "pm-out"),
                conn("fn", "out-Done", "resp", "send"),
            ],
        ),
    )
    runtime = Runtime.from_export(graph, js=_engine())
    for _ in range(3):
        prelude_calls.clear()
        response = await runtime.run("tasks", make_request({"items": [{"value": i} for i in range(1, 6)]}))
        assert json.loads(response.body) == {"result": {"out": 15}}
        assert _run_calls(prelude_calls).count("runFunction") == 6  # five tasks and the reader
        assert {"openRun", "syncModels"}.isdisjoint(prelude_calls), prelude_calls
