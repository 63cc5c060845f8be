"""Hot reload relies on this: a run finishes on the runtime it started with, whatever replaced it."""

from __future__ import annotations

import asyncio
from typing import Any

from sidecar.runtime import JsEngine, Runtime, make_request
from tests.runtime.graphs import component, conn, export, node, request_node, response_node


def _answering(value: str, *, wait: bool = False) -> dict[str, Any]:
    """``f`` answers ``{"v": value}``; with ``wait`` it first awaits a record count (a host call)."""
    script = (
        "await Noodl.Records.count('Gate');\n" if wait else ""
    ) + f"Outputs.v = {value!r}; Outputs.Done();"
    ports = [
        {"name": "out-v", "plug": "output", "type": "*"},
        {"name": "out-Done", "plug": "output", "type": "signal"},
    ]
    function = node("fn", "JavaScriptFunction", {"functionScript": script}, ports=ports)
    return export(
        component(
            "f",
            [request_node(), function, response_node()],
            [
                conn("req", "receive", "fn", "run"),
                conn("fn", "out-v", "resp", "pm-v"),
                conn("fn", "out-Done", "resp", "send"),
            ],
        )
    )


class GateRecords:
    """A records port whose ``count`` waits until the test opens the gate."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()

    async def count(self, collection: str, where: Any) -> int:
        self.entered.set()
        await self.gate.wait()
        return 0


async def test_a_run_in_flight_finishes_on_its_runtime_after_a_swap() -> None:
    engine = JsEngine()  # one engine per backend, shared by its runtimes
    records: Any = GateRecords()
    current = Runtime.from_export(_answering("old", wait=True), js=engine, records=records)
    in_flight = asyncio.ensure_future(current.run("f", make_request({})))
    await records.entered.wait()

    current = Runtime.from_export(_answering("new"), js=engine, records=records)
    fresh = await current.run("f", make_request({}))
    records.gate.set()
    old = await in_flight

    assert fresh.body == '{"result":{"v":"new"}}'
    assert old.body == '{"result":{"v":"old"}}'
