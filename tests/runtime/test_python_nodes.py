"""Python Function and Python Expression nodes in graphs: answers, failures on the step, limits, logs."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Coroutine, Generator
from pathlib import Path
from typing import Any

import pytest

from ipc_schema.runtime import NodeType
from sidecar.python_runtime import PoolLimits, PythonPool
from sidecar.runtime import Runtime, make_request
from sidecar.runtime.context import FunctionResponse, RunContext
from sidecar.runtime.library import node_library
from tests.runtime.graphs import component, conn, export, node, request_node, response_node
from tests.runtime.test_recorder import ListRecorder


@pytest.fixture
async def pool(tmp_path: Path) -> AsyncIterator[PythonPool]:
    limits = PoolLimits(cpu_seconds=1, memory_bytes=256 * 1024 * 1024)
    made = PythonPool(tmp_path / "scratch", size=2, limits=limits)
    try:
        yield made
    finally:
        await made.close()


def python_function(script: str, outputs: tuple[str, ...] = (), signals: tuple[str, ...] = ("done",)) -> Any:
    ports = [{"name": f"out-{o}", "plug": "output", "type": "*"} for o in outputs]
    ports += [{"name": f"out-{s}", "plug": "output", "type": "signal"} for s in signals]
    return node("fn", "PythonFunction", {"script": script}, ports=ports)


def function_runtime(pool: PythonPool, script: str, outputs: tuple[str, ...], **options: Any) -> Runtime:
    """``f``: the request's ``a`` and ``b`` into the Python Function, its outputs into the Response."""
    connections = [
        conn("req", "pm-a", "fn", "in-a"),
        conn("req", "pm-b", "fn", "in-b"),
        conn("req", "receive", "fn", "run"),
        conn("fn", "out-done", "resp", "send"),
        *(conn("fn", f"out-{o}", "resp", f"pm-{o}") for o in outputs),
    ]
    graph = export(
        component("f", [request_node(), python_function(script, outputs), response_node()], connections)
    )
    options.setdefault("timeout_seconds", 20.0)
    return Runtime.from_export(graph, python=pool, **options)


async def test_a_python_function_answers_through_a_response(pool: PythonPool) -> None:
    script = (
        "outputs['sum'] = inputs['a'] + inputs['b']\n"
        "outputs['who'] = f\"{inputs['a']}+{inputs['b']}\"\n"
        "send_signal('done')\n"
    )
    runtime = function_runtime(pool, script, ("sum", "who"))

    response = await runtime.run("f", make_request({"a": 2, "b": 40}))

    assert (response.status_code, response.body) == (200, '{"result":{"sum":42,"who":"2+40"}}')


async def test_a_finished_python_run_is_freed_without_the_cycle_collector(pool: PythonPool) -> None:
    """A run left in reference cycles waits for the cycle collector, whose passes over thousands of
    such runs paused the loop for tens of milliseconds; a JavaScript run is freed when it ends."""
    script = "outputs['sum'] = inputs['a'] + inputs['b']\nsend_signal('done')\n"
    runtime = function_runtime(pool, script, ("sum",))
    request = make_request({"a": 2, "b": 40})
    await runtime.run("f", request)  # a warm worker, the scope's template captured
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector would free is kept in gc.garbage instead
    try:
        responses = [await runtime.run("f", request) for _ in range(3)]
        gc.collect()
        left = [thing for thing in gc.garbage if isinstance(thing, RunContext)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()

    assert [response.body for response in responses] == ['{"result":{"sum":42}}'] * 3
    assert left == []


async def test_async_code_sends_its_outputs_and_signal(pool: PythonPool) -> None:
    script = (
        "import asyncio\n"
        "async def slow_product(x, y):\n"
        "    await asyncio.sleep(0.05)\n"
        "    return x * y\n"
        "outputs['product'] = await slow_product(inputs['a'], inputs['b'])\n"
        "send_signal('done')\n"
    )
    response = await function_runtime(pool, script, ("product",)).run("f", make_request({"a": 6, "b": 7}))

    assert response.body == '{"result":{"product":42}}'


async def test_a_raised_exception_is_reported_on_the_step_with_its_message(pool: PythonPool) -> None:
    recorder = ListRecorder()
    script = "raise ValueError('the input was wrong: ' + str(inputs['a']))\n"
    runtime = function_runtime(pool, script, (), timeout_seconds=1.0)

    response = await runtime.run("f", make_request({"a": 5}), recorder=recorder)

    failures = [call for call in recorder.calls if call[0] == "node_failed"]
    assert len(failures) == 1
    assert failures[0][1:3] == ("fn", "PythonFunction")
    assert failures[0][3].endswith("ValueError: the input was wrong: 5")
    assert 'File "<python node>", line 1' in failures[0][3]
    assert response.status_code == 504  # no Response was sent, as for a throwing JavaScript Function


async def test_print_lines_reach_the_step(pool: PythonPool) -> None:
    recorder = ListRecorder()
    script = (
        "print('adding', inputs['a'], inputs['b'])\n"
        "import logging\n"
        "logging.warning('careful')\n"
        "outputs['sum'] = inputs['a'] + inputs['b']\n"
        "send_signal('done')\n"
    )

    await function_runtime(pool, script, ("sum",)).run("f", make_request({"a": 1, "b": 2}), recorder=recorder)

    steps = [call[3] for call in recorder.calls if call[0] == "node_finished" and call[1] == "fn"]
    logged = [step for step in steps if "logs" in step]
    assert logged == [
        {
            "logs": [{"level": "info", "message": "adding 1 2"}, {"level": "warning", "message": "careful"}],
            "out-sum": 3,
            "out-done": True,
        }
    ]


async def test_an_infinite_loop_fails_the_run_with_the_cpu_limit_and_the_pool_recovers(
    pool: PythonPool,
) -> None:
    recorder = ListRecorder()
    runtime = function_runtime(pool, "while True:\n    pass\n", ())

    response = await runtime.run("f", make_request({"a": 1, "b": 2}), recorder=recorder)

    assert response.status_code == 500
    assert "CPU time limit (1 s)" in response.body
    assert any(call[0] == "node_failed" and "CPU time limit" in call[3] for call in recorder.calls)
    assert pool.replaced == 1
    again = await function_runtime(pool, "outputs['sum'] = 3\nsend_signal('done')", ("sum",)).run(
        "f", make_request({})
    )
    assert again.body == '{"result":{"sum":3}}'


async def test_the_run_timeout_stops_a_sleeping_function_and_its_worker(pool: PythonPool) -> None:
    runtime = function_runtime(
        pool, "import time\ntime.sleep(60)\nsend_signal('done')\n", (), timeout_seconds=0.5
    )

    response = await runtime.run("f", make_request({}))
    for _ in range(50):  # the run's teardown cancelled the call; the pool kills the worker right after
        if pool.replaced:
            break
        await asyncio.sleep(0.02)

    assert response.status_code == 504
    assert pool.replaced == 1


async def test_a_memory_bomb_fails_the_run_with_the_memory_limit(pool: PythonPool) -> None:
    script = "hog = []\nwhile True:\n    hog.append(bytearray(10 * 1024 * 1024))\n"

    response = await function_runtime(pool, script, ()).run("f", make_request({}))

    assert (response.status_code, response.body) == (
        500,
        '{"error":"Python code exceeded its memory limit (256 MiB)"}',
    )


async def test_concurrent_runs_keep_their_own_values(pool: PythonPool) -> None:
    script = (
        "import time\n"
        "mine = inputs['a']\n"
        "time.sleep(0.2)\n"
        "outputs['sum'] = mine + inputs['b']\n"
        "send_signal('done')\n"
    )
    runtime = function_runtime(pool, script, ("sum",))

    responses = await asyncio.gather(*(runtime.run("f", make_request({"a": n, "b": 100})) for n in range(4)))

    assert [r.body for r in responses] == [f'{{"result":{{"sum":{100 + n}}}}}' for n in range(4)]


async def test_a_python_expression_reads_named_inputs(pool: PythonPool) -> None:
    expression = node(
        "ex", "PythonExpression", {"expression": "price * quantity if quantity > 0 else min(price, 0)"}
    )
    connections = [
        conn("req", "pm-price", "ex", "price"),
        conn("req", "pm-quantity", "ex", "quantity"),
        conn("ex", "result", "resp", "pm-total"),
        conn("ex", "isTrueEv", "resp", "send"),
    ]
    graph = export(component("f", [request_node(), expression, response_node()], connections))
    runtime = Runtime.from_export(graph, python=pool, timeout_seconds=20.0)

    response = await runtime.run("f", make_request({"price": 2.5, "quantity": 4}))

    assert response.body == '{"result":{"total":10}}'


def test_the_node_library_lists_both_python_nodes_with_ports_and_docs() -> None:
    library = {entry["name"]: entry for entry in node_library()}

    function = library["PythonFunction"]
    assert function["displayNodeName"] == "Python Function"
    assert "send_signal" in function["docs"]
    assert {port["name"] for port in function["ports"]} >= {"script", "run", "scriptInputs", "scriptOutputs"}
    expression = library["PythonExpression"]
    assert expression["displayNodeName"] == "Python Expression"
    assert {port["name"] for port in expression["ports"]} >= {"expression", "result", "isTrueEv", "isFalseEv"}
    assert expression["docs"]
    for entry in (function, expression):  # the shape runtime:nodeLibrary answers with
        assert NodeType.model_validate(entry).name == entry["name"]


async def test_a_call_is_one_step_with_its_inputs_and_the_answers_outputs(pool: PythonPool) -> None:
    recorder = ListRecorder()
    script = "print('adding')\noutputs['sum'] = inputs['a'] + inputs['b']\nsend_signal('done')\n"

    response = await function_runtime(pool, script, ("sum",)).run(
        "f", make_request({"a": 1, "b": 2}), recorder=recorder
    )

    assert response.body == '{"result":{"sum":3}}'
    steps = [c for c in recorder.calls if c[0] in ("node_started", "node_finished") and c[1] == "fn"]
    assert steps == [  # as a JavaScript Function's call: one step, not one to send and one to answer
        ("node_started", "fn", "PythonFunction", {"in-a": 1, "in-b": 2, "run": True}),
        (
            "node_finished",
            "fn",
            "PythonFunction",
            {"logs": [{"level": "info", "message": "adding"}], "out-sum": 3, "out-done": True},
        ),
    ]


class TellingPool(PythonPool):
    """A pool that notes, right after it told a call's caller of the answer, what the run recorded."""

    def __init__(self, *args: Any, recorder: ListRecorder, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recorder = recorder
        self.seen: list[list[tuple[Any, ...]]] = []

    def submit(self, message: dict[str, Any], **options: Any) -> asyncio.Future[Any]:
        ended = options.pop("ended")

        def noting(future: asyncio.Future[Any]) -> None:
            ended(future)
            self.seen.append(list(self.recorder.calls))

        return super().submit(message, ended=noting, **options)


async def test_a_run_waiting_only_on_the_answer_goes_on_in_the_turn_it_is_read(tmp_path: Path) -> None:
    recorder = ListRecorder()
    pool = TellingPool(tmp_path / "scratch", recorder=recorder)
    script = "outputs['sum'] = inputs['a'] + inputs['b']\nsend_signal('done')\n"
    try:
        runtime = function_runtime(pool, script, ("sum",))
        response = await runtime.run("f", make_request({"a": 1, "b": 2}), recorder=recorder)
    finally:
        await pool.close()

    assert response.body == '{"result":{"sum":3}}'
    [seen] = pool.seen
    # By the time the pool's reader callback returns, the answer went through the Response node.
    assert ("node_started", "resp", "noodl.cloud.response", {"pm-sum": 3, "send": True}) in seen


class HandDriven:
    """A run driven by hand up to its first wait for the loop: ``response`` if it settled before, else
    awaiting this goes on with it (the loop's task takes over the future it waits on)."""

    def __init__(self, run: Coroutine[Any, Any, FunctionResponse]) -> None:
        self.run = run
        self.response: FunctionResponse | None = None
        self.waiting: Any = None
        try:
            self.waiting = run.send(None)
        except StopIteration as stop:
            self.response = stop.value

    def __await__(self) -> Generator[Any, None, FunctionResponse]:
        while self.response is None:
            yield self.waiting
            try:
                self.waiting = self.run.send(None)
            except StopIteration as stop:
                self.response = stop.value
        return self.response


async def test_a_quick_answer_settles_the_run_without_a_turn_of_the_loop(pool: PythonPool) -> None:
    """While the loop has nothing else to do, the run waits for a quick worker's answer on the loop's
    thread (as for a JavaScript script on a thread): a short Python run settles without yielding."""
    script = "outputs['sum'] = inputs['a'] + inputs['b']\nsend_signal('done')\n"
    runtime = function_runtime(pool, script, ("sum",))
    request = make_request({"a": 1, "b": 2})
    await runtime.run("f", request)  # a warm worker

    settled_at_once = []
    for _ in range(20):  # a loaded machine may keep a worker off its processor longer than the wait
        await asyncio.sleep(0)  # nothing is left on the loop's queue
        run = HandDriven(runtime.run("f", request))
        settled_at_once.append(run.response is not None)
        response = await run
        assert response.body == '{"result":{"sum":3}}'
        if settled_at_once[-1]:
            break

    assert any(settled_at_once)


async def test_two_python_functions_in_a_row_are_both_waited_for_without_the_loop(pool: PythonPool) -> None:
    def step(node_id: str, script: str) -> Any:
        ports = [
            {"name": "out-x", "plug": "output", "type": "*"},
            {"name": "out-done", "plug": "output", "type": "signal"},
        ]
        return node(node_id, "PythonFunction", {"script": script}, ports=ports)

    graph = export(
        component(
            "f",
            [
                request_node(),
                step("one", "outputs['x'] = inputs['a'] * 10\nsend_signal('done')\n"),
                step("two", "outputs['x'] = inputs['x'] + 1\nsend_signal('done')\n"),
                response_node(),
            ],
            [
                conn("req", "pm-a", "one", "in-a"),
                conn("req", "receive", "one", "run"),
                conn("one", "out-x", "two", "in-x"),
                conn("one", "out-done", "two", "run"),
                conn("two", "out-x", "resp", "pm-x"),
                conn("two", "out-done", "resp", "send"),
            ],
        )
    )
    runtime = Runtime.from_export(graph, python=pool, timeout_seconds=20.0)
    request = make_request({"a": 4})
    await runtime.run("f", request)  # a warm worker

    settled_at_once = []
    for _ in range(20):
        await asyncio.sleep(0)
        run = HandDriven(runtime.run("f", request))
        settled_at_once.append(run.response is not None)
        response = await run
        assert response.body == '{"result":{"x":41}}'
        if settled_at_once[-1]:
            break

    assert any(settled_at_once)


async def test_a_run_with_loop_work_waiting_goes_on_through_the_loop(pool: PythonPool) -> None:
    """A callback ready on the loop is not held up by that wait: the run yields to the loop at once."""
    script = "outputs['sum'] = inputs['a'] + inputs['b']\nsend_signal('done')\n"
    runtime = function_runtime(pool, script, ("sum",))
    request = make_request({"a": 1, "b": 2})
    await runtime.run("f", request)
    ran: list[str] = []
    asyncio.get_running_loop().call_soon(ran.append, "other work")

    response = await runtime.run("f", request)

    assert ran == ["other work"]  # it ran while the run waited for its answer
    assert response.body == '{"result":{"sum":3}}'


async def test_an_expressions_evaluation_is_one_step_with_its_result(pool: PythonPool) -> None:
    recorder = ListRecorder()
    expression = node("ex", "PythonExpression", {"expression": "price * quantity"})
    connections = [
        conn("req", "pm-price", "ex", "price"),
        conn("req", "pm-quantity", "ex", "quantity"),
        conn("ex", "result", "resp", "pm-total"),
        conn("ex", "isTrueEv", "resp", "send"),
    ]
    graph = export(component("f", [request_node(), expression, response_node()], connections))
    runtime = Runtime.from_export(graph, python=pool, timeout_seconds=20.0)

    response = await runtime.run("f", make_request({"price": 2.5, "quantity": 4}), recorder=recorder)

    assert response.body == '{"result":{"total":10}}'
    finished = [c[3] for c in recorder.calls if c[0] == "node_finished" and c[1] == "ex"]
    started = [c for c in recorder.calls if c[0] == "node_started" and c[1] == "ex"]
    assert len(started) == 1
    assert finished == [{"result": 10, "isTrue": True, "isFalse": False, "isTrueEv": True}]
