"""Small builders for hand-written exports, so node tests read like the graphs they draw."""

from __future__ import annotations

from typing import Any

from sidecar.runtime.export import CLOUD_PREFIX


def node(
    node_id: str,
    node_type: str,
    parameters: dict[str, Any] | None = None,
    *,
    ports: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": node_type,
        "parameters": parameters or {},
        "ports": ports or [],
        "children": [],
    }


def request_node(**parameters: Any) -> dict[str, Any]:
    return node("req", "noodl.cloud.request", {"allowNoAuth": True, **parameters})


def response_node(node_id: str = "resp", **parameters: Any) -> dict[str, Any]:
    return node(node_id, "noodl.cloud.response", parameters)


def function_node(
    script: str, outputs: tuple[str, ...] = (), signals: tuple[str, ...] = ("Done",)
) -> dict[str, Any]:
    """A Function node ``fn`` running ``script``, with value outputs ``out-<o>`` and signals ``out-<s>``."""
    ports = [{"name": f"out-{o}", "plug": "output", "type": "*"} for o in outputs]
    ports += [{"name": f"out-{s}", "plug": "output", "type": "signal"} for s in signals]
    return node("fn", "JavaScriptFunction", {"functionScript": script}, ports=ports)


def tagged_function(name: str, script: str) -> dict[str, Any]:
    """Function ``name``: the request's ``tag`` goes to a Function node run on receive; its ``out``
    output is the answer, sent on its ``Done`` signal."""
    return export(
        component(
            name,
            [
                request_node(params="tag"),
                function_node(script, outputs=("out",)),
                response_node(params="out"),
            ],
            [
                conn("req", "pm-tag", "fn", "in-tag"),
                conn("req", "receive", "fn", "run"),
                conn("fn", "out-out", "resp", "pm-out"),
                conn("fn", "out-Done", "resp", "send"),
            ],
        )
    )


def conn(source: str, source_port: str, target: str, target_port: str) -> dict[str, str]:
    return {"sourceId": source, "sourcePort": source_port, "targetId": target, "targetPort": target_port}


def component(
    name: str,
    nodes: list[dict[str, Any]],
    connections: list[dict[str, str]],
    ports: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "name": CLOUD_PREFIX + name,
        "ports": ports or [],
        "roots": [],
        "nodes": nodes,
        "connections": connections,
    }


def export(*components: dict[str, Any], metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"settings": {}, "metadata": metadata or {}, "components": list(components)}


async def run_graph(
    nodes: list[dict[str, Any]],
    connections: list[dict[str, str]],
    body: Any = None,
    *,
    extra_components: tuple[dict[str, Any], ...] = (),
    metadata: dict[str, Any] | None = None,
    **options: Any,
) -> tuple[int, str]:
    """Run a one-function export named ``f`` (Request node included) and return status and body."""
    from sidecar.runtime import Runtime, make_request

    graph = export(
        component("f", [request_node(), *nodes], connections), *extra_components, metadata=metadata
    )
    options.setdefault("timeout_seconds", 1.0)
    response = await Runtime.from_export(graph, **options).run(
        "f", make_request(body if body is not None else {})
    )
    return response.status_code, response.body


def scratch_run(engine: Any) -> Any:
    """A run outside any graph, for calling ``engine`` directly; its JavaScript context lives as long
    as the returned run does."""
    import asyncio

    from sidecar.runtime import Runtime, make_request
    from sidecar.runtime.context import RunContext

    async def make() -> RunContext:
        runtime = Runtime.from_export(export(), js=engine)
        return RunContext(runtime.services, "scratch", "scratch", make_request(), None)

    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(make())
    finally:
        loop.close()
