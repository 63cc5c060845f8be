"""The demo order flow (``examples/order-flow.workflow.json``) end to end, with history.

A webhook-style function: IF (any items?) → Switch (customer tier → discount) → For Each (price
each line in a child component) → Split into the order total and a warehouse notification over
HTTP with Retry → Merge → Response. The warehouse is served here on 127.0.0.1; it refuses the first
``failures`` calls with 503 so the Retry has work to do.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from sidecar.history import ExecutionHistory
from sidecar.runtime import Runtime, make_request
from tests.conftest import PROJECT_ROOT

ORDER_FLOW = PROJECT_ROOT / "examples" / "order-flow.workflow.json"
ITEMS = [
    {"sku": "A", "qty": 2, "price": 10},
    {"sku": "B", "qty": 1, "price": 5},
    {"sku": "C", "qty": 3, "price": 1},
]


@dataclass
class Warehouse:
    """The outbound endpoint: counts calls, refuses the first ``failures`` of them."""

    url: str = ""
    failures: int = 0
    received: list[Any] = field(default_factory=list)

    async def notify(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        if len(self.received) <= self.failures:
            return web.json_response({"error": "busy"}, status=503)
        return web.json_response({"ref": f"WH-{len(self.received)}"})


@pytest.fixture
async def warehouse() -> AsyncIterator[Warehouse]:
    server = Warehouse()
    app = web.Application()
    app.router.add_post("/notify", server.notify)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}/notify"
    yield server
    await runner.cleanup()


async def run_order(history: ExecutionHistory, body: dict[str, Any]) -> tuple[int, Any, dict[str, Any]]:
    export = json.loads(ORDER_FLOW.read_text(encoding="utf-8"))
    runtime = Runtime.from_export(export, timeout_seconds=5)
    recorder = history.recorder_for()
    assert recorder is not None
    response = await runtime.run("order-flow", make_request(body), recorder=recorder)
    assert history.writer is not None
    await history.writer.flush()
    assert recorder.execution_id is not None
    stored = await history.get_execution(recorder.execution_id)
    assert stored is not None
    return response.status_code, json.loads(response.body), stored


def _node_ids(stored: dict[str, Any]) -> set[str]:
    return {step["nodeId"] for step in stored["steps"]}


async def test_a_gold_order_is_priced_notified_with_retry_and_answered(
    history: ExecutionHistory, warehouse: Warehouse
) -> None:
    warehouse.failures = 1
    body = {"orderId": "A-17", "tier": "gold", "items": ITEMS, "notifyUrl": warehouse.url}

    status, answer, stored = await run_order(history, body)

    assert status == 200
    assert answer["result"] == {
        "orderId": "A-17",
        "tier": "gold",
        "lines": [20, 5, 3],
        "total": 22.4,
        "warehouseRef": "WH-2",
        "attempts": 2,
    }
    assert warehouse.received == [{"orderId": "A-17", "lines": [20, 5, 3]}] * 2
    assert stored["status"] == "success"
    every_node = {
        "request",
        "has-items",
        "tier",
        "gold-discount",
        "price-lines",
        "line-total",
        "fan-out",
        "order-total",
        "notify-retry",
        "notify-warehouse",
        "join",
        "response",
    }
    assert every_node <= _node_ids(stored)
    assert not {"no-items", "bad-line", "warehouse-down"} & _node_ids(stored)
    loop_items = [
        s for s in stored["steps"] if s["nodeId"] == "price-lines" and "currentIndex" in s["inputData"]
    ]
    assert sorted(s["inputData"]["currentIndex"] for s in loop_items) == [0, 1, 2]


async def test_an_order_without_items_is_stopped_with_a_recorded_error(
    history: ExecutionHistory, warehouse: Warehouse
) -> None:
    status, answer, stored = await run_order(
        history, {"orderId": "A-18", "items": [], "notifyUrl": warehouse.url}
    )

    assert (status, answer) == (500, {"error": "Order has no items"})
    assert [(s["nodeId"], s["errorMessage"]) for s in stored["steps"] if s["status"] == "error"] == [
        ("no-items", "Order has no items")
    ]
    assert warehouse.received == []


async def test_a_line_without_a_price_stops_the_order(
    history: ExecutionHistory, warehouse: Warehouse
) -> None:
    items = [*ITEMS, {"sku": "D", "qty": 1, "price": 0}]

    status, answer, stored = await run_order(
        history, {"orderId": "A-19", "items": items, "notifyUrl": warehouse.url}
    )

    assert (status, answer) == (500, {"error": "An order line has no price"})
    failed = [s["nodeId"] for s in stored["steps"] if s["status"] == "error"]
    assert failed == ["price-lines", "bad-line"]


async def test_a_warehouse_that_keeps_refusing_fails_the_order_after_every_attempt(
    history: ExecutionHistory, warehouse: Warehouse
) -> None:
    warehouse.failures = 99
    body = {"orderId": "A-20", "tier": "silver", "items": ITEMS[:1], "notifyUrl": warehouse.url}

    status, answer, stored = await run_order(history, body)

    assert (status, answer) == (500, {"error": "The warehouse did not accept the order"})
    assert len(warehouse.received) == 4
    failed = [(s["nodeId"], s["errorMessage"]) for s in stored["steps"] if s["status"] == "error"]
    assert failed == [
        ("notify-retry", "gave up after 4 attempt(s): 503"),
        ("warehouse-down", "The warehouse did not accept the order"),
    ]
