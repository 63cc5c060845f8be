"""Instances a run makes while it runs (Run Tasks' tasks, For Each children) are copies of the first
one once it was captured: a copy must be exactly what ``populate`` builds, in the run it is made in.

The whole run is compared, not only the new instance: its nodes, the frame's dirty list (the order
of the next frame's work), the script hosts' registry with its keys, and the frame request.
"""

from __future__ import annotations

import json
from typing import Any

from sidecar.runtime import Runtime, make_request
from sidecar.runtime.component import ComponentInstance, _build_instance, new_instance
from sidecar.runtime.context import RunContext
from sidecar.runtime.export import CLOUD_PREFIX, ComponentDef
from sidecar.runtime.nodes.utilities import UniqueIdNode
from tests.runtime.conftest import load_conformance_export
from tests.runtime.graphs import component, conn, export, node, request_node, response_node
from tests.runtime.test_scope_template import _built, _containers, _Dump

DO = frozenset({"Do"})
TASK = CLOUD_PREFIX + "lib/AccumulateTask"  # a Function node between Component Inputs and Outputs


def _scope(ctx: RunContext) -> list[object]:
    dump = _Dump(ctx)
    return [dump.scope(), [dump.value(n) for n in ctx._dirty], ctx._frame_requested]


async def test_a_copied_task_instance_is_exactly_the_instance_a_build_gives() -> None:
    runtime = Runtime.from_export(load_conformance_export("exports/h_runtasks.export.json"))
    task = runtime.export.components[TASK]
    first, _ = _built(runtime, "runtasks", "run1")
    new_instance(first, task, "t1", DO)  # the first one is built and captured
    captured = runtime.services.instance_templates[(TASK, DO)]
    assert captured[0] is task
    assert captured[1] is not None

    built, _ = _built(runtime, "runtasks", "run2")
    copied, _ = _built(runtime, "runtasks", "run3")
    other, _ = _built(runtime, "runtasks", "run4")
    for ctx in (copied, other):
        for number in (1, 2):  # a second one in the same run takes the next script host key
            new_instance(ctx, task, f"t{number}", DO)
    for number in (1, 2):
        _build_instance(built, task, f"t{number}", DO)

    assert _scope(copied) == _scope(built)
    assert list(copied.script_nodes) == list(built.script_nodes) == ["collect#0", "taskfn#1", "taskfn#2"]
    # Two copies share what two builds share (definitions, parameter values), nothing else.
    assert _containers(copied) & _containers(other) <= _containers(first) & _containers(built)


def _task_with(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return component(
        "Task",
        [node("ci", "Component Inputs"), *nodes, node("co", "Component Outputs")],
        [conn("ci", "Do", "co", "Success")],
        ports=[
            {"name": "Do", "plug": "input", "type": "signal"},
            {"name": "Success", "plug": "output", "type": "signal"},
        ],
    )


def _instances_of(task: dict[str, Any], count: int) -> tuple[Runtime, list[ComponentInstance]]:
    function = component("f", [request_node(), response_node()], [conn("req", "receive", "resp", "send")])
    runtime = Runtime.from_export(export(function, task))
    ctx = RunContext(runtime.services, "run1", "f", make_request({}), None)
    definition: ComponentDef = runtime.export.components[CLOUD_PREFIX + "Task"]
    return runtime, [new_instance(ctx, definition, f"t{i}", DO) for i in range(count)]


async def test_an_instance_whose_nodes_differ_between_builds_is_built_every_time() -> None:
    runtime, instances = _instances_of(_task_with([node("uid", "Unique Id")]), 3)
    assert runtime.services.instance_templates[(CLOUD_PREFIX + "Task", DO)][1] is None
    ids = {
        instance.inner["uid"].guid
        for instance in instances
        if isinstance(instance.inner["uid"], UniqueIdNode)
    }
    assert len(ids) == 3


async def test_run_tasks_answer_alike_whether_their_tasks_are_built_or_copied() -> None:
    runtime = Runtime.from_export(load_conformance_export("exports/h_runtasks.export.json"))
    bodies = [
        {"items": [{"value": i} for i in range(1, 8)]},
        {"items": [{"value": 1}, {"value": "x"}, {"value": 3}]},  # one task fails
    ]
    answers = []
    for body in bodies * 2:  # the first run of all builds its first task; every later task is a copy
        response = await runtime.run("runtasks", make_request(body))
        answers.append((response.status_code, json.loads(response.body)))
    assert answers[:2] == answers[2:]
    assert answers[0] == (200, {"result": {"outcome": "", "sum": 28, "order": [1, 2, 3, 4, 5, 6, 7]}})
    assert answers[1][1]["result"]["outcome"] == "some tasks failed"
