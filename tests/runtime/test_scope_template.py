"""Later runs of a function start from a copy of its first run's scope: the copy must be exact.

A copied scope is compared with a freshly built one attribute by attribute (values, node references,
which containers are the same object), and two copies must share no more state than two builds do.
"""

from __future__ import annotations

import dataclasses
import threading
import types
from collections.abc import Iterator
from typing import Any

import pytest

from sidecar.runtime import JsEngine, JsLimits, Runtime, make_request, scope_template
from sidecar.runtime import runtime as runtime_module
from sidecar.runtime.component import ComponentInstance, instantiate
from sidecar.runtime.context import RunContext
from sidecar.runtime.export import CLOUD_PREFIX
from sidecar.runtime.node import Node
from sidecar.runtime.ports import InputSpec, OutputSpec
from sidecar.runtime.scope_template import MAX_NODES, ScopeTemplate, capture, capture_off_loop
from tests.runtime.conftest import (
    conformance_answer,
    conformance_cases,
    conformance_request,
    load_conformance_export,
)
from tests.runtime.graphs import component, conn, node, request_node, response_node
from tests.runtime.test_recorder import ListRecorder

CASES = conformance_cases()
FUNCTIONS = sorted({(case["export"], case["function"]) for case in CASES if "nope" not in case["function"]})
# Functions whose scopes hold only nodes that set up the same way every run: these must be copied.
COPIED = {"echo", "condition", "expression", "function", "greet", "runtasks", "sum3"}


class _Dump:
    """Everything a scope's nodes hold, with nodes as positions and shared containers marked."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.positions = {id(n): i for i, n in enumerate(ctx.nodes)}
        self.containers: dict[int, int] = {}  # id → order first seen

    def scope(self) -> list[Any]:
        nodes = [(type(n), [(name, self.value(v)) for name, v in _attributes(n)]) for n in self.ctx.nodes]
        return [*nodes, self.value(self.ctx.script_nodes)]

    def value(self, v: Any) -> Any:
        if id(v) in self.positions:
            return ("node", self.positions[id(v)])
        if v is self.ctx:
            return ("ctx",)
        if type(v) in (dict, list, set):
            if id(v) in self.containers:
                return ("same as", self.containers[id(v)])
            self.containers[id(v)] = len(self.containers)
            if type(v) is dict:
                return ("dict", [(k, self.value(x)) for k, x in v.items()])
            items = [self.value(x) for x in v]
            return (type(v).__name__, items if type(v) is list else sorted(map(repr, items)))
        if type(v) is tuple:
            return ("tuple", [self.value(x) for x in v])
        bound = isinstance(v, types.MethodType | types.BuiltinMethodType)
        if bound and not isinstance(v.__self__, types.ModuleType):
            return ("method", self.value(v.__self__), v.__name__)
        if isinstance(v, types.FunctionType):
            return ("function", v.__code__, [self.value(cell.cell_contents) for cell in v.__closure__ or ()])
        if isinstance(v, InputSpec | OutputSpec):
            return ("spec", [self.value(getattr(v, f.name)) for f in dataclasses.fields(v)])
        if isinstance(v, str):
            return v.replace(self.ctx.run_id, "<run>")
        return ("value", type(v), v)


def _attributes(n: Node) -> Iterator[tuple[str, Any]]:
    for cls in type(n).__mro__:
        for slot in cls.__dict__.get("__slots__", ()):
            yield slot, getattr(n, slot)
    yield from getattr(n, "__dict__", {}).items()


def _built(runtime: Runtime, function: str, run_id: str) -> tuple[RunContext, ComponentInstance]:
    """A scope built as a run builds it, up to the end of its setup frame."""
    ctx = RunContext(runtime.services, run_id, function, make_request({}), None)
    instance = instantiate(ctx, runtime.export.components[CLOUD_PREFIX + function], f"{run_id}-{function}")
    ctx.run_frames_now(1)
    return ctx, instance


def _chunked_capture(ctx: RunContext, instance: ComponentInstance) -> ScopeTemplate | None:
    """The off-loop capture, two nodes per chunk, so that references cross chunks everywhere."""
    if not scope_template.copyable(ctx):
        return None
    original = scope_template.CHUNK_NODES
    scope_template.CHUNK_NODES = 2
    try:
        return capture_off_loop(ctx, instance, ctx.services.js.generation)
    finally:
        scope_template.CHUNK_NODES = original


@pytest.mark.parametrize("capturing", [capture, _chunked_capture], ids=["on the loop", "off the loop"])
@pytest.mark.parametrize(("export", "function"), FUNCTIONS, ids=[f for _, f in FUNCTIONS])
async def test_a_copied_scope_is_exactly_the_scope_a_build_gives(
    export: str, function: str, capturing: Any
) -> None:
    runtime = Runtime.from_export(load_conformance_export(export))
    first, instance = _built(runtime, function, "run1")
    template = capturing(first, instance)
    if function not in COPIED:
        assert template is None  # a node in it may set up differently next run: it is built every run
        return
    assert template is not None
    built, _ = _built(runtime, function, "run2")
    copied = RunContext(runtime.services, "run3", function, make_request({}), None)
    template.build(copied, f"run3-{function}")
    other_copy = RunContext(runtime.services, "run4", function, make_request({}), None)
    template.build(other_copy, f"run4-{function}")

    assert _Dump(copied).scope() == _Dump(built).scope()
    assert copied.frame_number == built.frame_number
    # Runs may share what every build shares (definitions, parameter values), nothing else.
    shared_by_builds = _containers(first) & _containers(built)
    assert _containers(copied) & _containers(other_copy) <= shared_by_builds
    assert _containers(copied) & _containers(built) <= shared_by_builds


def _containers(ctx: RunContext) -> set[int]:
    dump = _Dump(ctx)
    dump.scope()
    return set(dump.containers)


@pytest.mark.parametrize("export", sorted({e for e, _ in FUNCTIONS}))
async def test_runs_with_different_requests_never_see_each_others_state(export: str) -> None:
    runtime = Runtime.from_export(load_conformance_export(export), timeout_seconds=0.3)
    cases = [c for c in CASES if c["export"] == export and not c["expected"].get("timeout")]

    for case in cases + cases:  # the second pass runs on scopes copied from runs of other requests
        response = await runtime.run(case["function"], conformance_request(case))
        assert (response.status_code, response.body) == conformance_answer(case), case["id"]


async def test_an_expression_evaluated_while_setting_up_is_evaluated_again_every_run() -> None:
    # Not connected to Run, it evaluates when its scope is built: random() must differ from run to run.
    export = {
        "components": [
            component(
                "roll",
                [request_node(), node("dice", "Expression", {"expression": "random()"}), response_node()],
                [conn("dice", "result", "resp", "pm-value"), conn("req", "receive", "resp", "send")],
            )
        ]
    }
    runtime = Runtime.from_export(export)

    bodies = {(await runtime.run("roll", make_request({}))).body for _ in range(5)}

    assert len(bodies) == 5


async def test_a_copied_scope_still_answers_after_the_script_engine_restarts() -> None:
    # Running out of memory restarts the engine and forgets compiled expressions; copies made before
    # hold handles of the old engine and must not be used.
    engine = JsEngine(JsLimits(memory_bytes=32 * 1024 * 1024))
    sum3 = Runtime.from_export(load_conformance_export("exports/f_component.export.json"), js=engine)
    hog = node("hog", "Expression", {"expression": "'x'.repeat(1e8)"})  # out of memory in the engine itself
    hog_export = {
        "components": [
            component(
                "hog",
                [request_node(), hog, response_node()],
                [conn("hog", "result", "resp", "pm-value"), conn("req", "receive", "resp", "send")],
            )
        ]
    }
    strings = make_request({"x": "1", "y": 2, "z": 3})  # "1" + 2 is evaluated by the engine
    answer = '{"result":{"xy":"12","xyz":"123"}}'
    assert (await sum3.run("sum3", strings)).body == answer

    failed = await Runtime.from_export(hog_export, js=engine).run("hog", make_request({}))
    assert failed.body == '{"error":"script exceeded the memory limit"}'

    assert (await sum3.run("sum3", strings)).body == answer
    assert (await sum3.run("sum3", strings)).body == answer


async def test_a_run_on_a_copied_scope_records_the_same_steps() -> None:
    runtime = Runtime.from_export(load_conformance_export("exports/f_component.export.json"))
    request = make_request({"x": 1, "y": 2, "z": 39})
    first, again = ListRecorder(), ListRecorder()

    await runtime.run("sum3", request, recorder=first)
    await runtime.run("sum3", request, recorder=again)

    assert len(first.calls) > 10
    assert again.calls == first.calls


def _long_chain(length: int) -> dict[str, Any]:
    chain = [node(f"f{i}", "String Format", {"format": "{a}."}) for i in range(length)]
    links = [conn(f"f{i}", "formatted", f"f{i + 1}", "a") for i in range(length - 1)]
    return {
        "components": [
            component(
                "long",
                [request_node(), *chain, response_node()],
                [
                    conn("req", "pm-a", "f0", "a"),
                    *links,
                    conn(f"f{length - 1}", "formatted", "resp", "pm-v"),
                    conn("req", "receive", "resp", "send"),
                ],
            )
        ]
    }


async def test_a_scope_of_more_than_a_hundred_nodes_is_copied_once_captured_in_a_worker_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Capturing it during its first run would hold the event loop for longer than a build takes.
    length = 3 * MAX_NODES
    threads: list[int] = []

    def noting_thread(*args: Any) -> ScopeTemplate | None:
        threads.append(threading.get_ident())
        return capture_off_loop(*args)

    monkeypatch.setattr(runtime_module, "capture_off_loop", noting_thread)
    runtime = Runtime.from_export(_long_chain(length))
    first, instance = _built(runtime, "long", "run1")
    assert capture(first, instance) is None  # not on the loop

    answer = '{"result":{"v":"x' + "." * length + '"}}'
    assert (await runtime.run("long", make_request({"a": "x"}))).body == answer
    assert not runtime.copies_scope("long")
    await runtime.scope_captures()

    assert runtime.copies_scope("long")
    assert threads
    assert threading.get_ident() not in threads
    for value in ("x", "y"):
        response = await runtime.run("long", make_request({"a": value}))
        assert response.body == '{"result":{"v":"' + value + "." * length + '"}}'


async def test_a_large_scope_that_may_differ_between_runs_is_never_captured() -> None:
    graph = _long_chain(2 * MAX_NODES)
    graph["components"][0]["nodes"].append(node("dice", "Expression", {"expression": "random()"}))
    runtime = Runtime.from_export(graph)

    await runtime.run("long", make_request({"a": "x"}))
    await runtime.scope_captures()

    assert not runtime.copies_scope("long")


async def test_an_attribute_the_generated_code_cannot_write_leaves_the_function_building() -> None:
    runtime = Runtime.from_export(load_conformance_export("exports/f_component.export.json"))
    ctx, instance = _built(runtime, "sum3", "run1")
    expression = next(n for n in ctx.nodes if n.type_name == "Expression")
    setattr(expression, "not-a-name", 1)

    assert capture(ctx, instance) is None


async def test_a_held_method_of_a_table_every_run_shares_is_copied_as_shared() -> None:
    runtime = Runtime.from_export(load_conformance_export("exports/f_component.export.json"))
    ctx, instance = _built(runtime, "sum3", "run1")
    request = instance.inner["req"]
    request.lookup = type(request)._static_inputs.get  # type: ignore[attr-defined]

    template = capture(ctx, instance)

    assert template is not None
    copied = RunContext(runtime.services, "run2", "sum3", make_request({}), None)
    copy = template.build(copied, "run2-sum3").inner["req"]
    assert copy.lookup.__self__ is type(request)._static_inputs  # type: ignore[attr-defined]
