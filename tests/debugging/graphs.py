"""The flow the debugging tests run: a branch, a Function that awaits, a Wait, a For Each.

Request(flag, name, items, waitMs) → Condition(flag)
  on true  → Function ``fn`` (awaits, throws for the name "boom") → For Each ``loop`` over items
             (child: Expression ``10 / currentItem.n``; 0 → Failure) → Wait ``nap`` (waitMs) →
             Response ``resp-ok`` {greeting, results}
  on false → Response ``resp-no`` {branch: "no"}
"""

from __future__ import annotations

from typing import Any

from sidecar.runtime.export import CLOUD_PREFIX
from tests.runtime.graphs import component, conn, export, node, request_node, response_node
from tests.workflow.graphs import expression_child

SCRIPT = (
    "const name = await Promise.resolve(Inputs.name);\n"
    "if (name === 'boom') throw new Error('bad name ' + name);\n"
    "Outputs.greeting = 'Hello ' + name;\n"
    "Outputs.Done();\n"
)
CHILD = expression_child("lib/invert", "currentItem.n ? 10 / currentItem.n : false")
FUNCTION_PORTS = [
    {"name": "in-name", "plug": "input", "type": "*"},
    {"name": "out-greeting", "plug": "output", "type": "*"},
    {"name": "out-Done", "plug": "output", "type": "signal"},
]


def flow() -> dict[str, Any]:
    nodes = [
        request_node(params="flag,name,items,waitMs"),
        node("cond", "Condition"),
        node("fn", "JavaScriptFunction", {"functionScript": SCRIPT}, ports=FUNCTION_PORTS),
        node(
            "loop",
            "Workflow For Each",
            {"template": CLOUD_PREFIX + "lib/invert", "onItemFailure": "continue"},
        ),
        node("nap", "Workflow Wait", {"unit": "ms"}),
        response_node("resp-ok", params="greeting,results"),
        response_node("resp-no", params="branch", **{"pm-branch": "no"}),
    ]
    connections = [
        conn("req", "pm-flag", "cond", "condition"),
        conn("req", "receive", "cond", "eval"),
        conn("cond", "ontrue", "fn", "run"),
        conn("req", "pm-name", "fn", "in-name"),
        conn("req", "pm-items", "loop", "items"),
        conn("fn", "out-Done", "loop", "run"),
        conn("req", "pm-waitMs", "nap", "duration"),
        conn("loop", "completed", "nap", "run"),
        conn("loop", "allResults", "nap", "data"),
        conn("fn", "out-greeting", "resp-ok", "pm-greeting"),
        conn("nap", "data", "resp-ok", "pm-results"),
        conn("nap", "done", "resp-ok", "send"),
        conn("cond", "onfalse", "resp-no", "send"),
    ]
    return export(component("f", nodes, connections), CHILD)


FLOW = flow()


def retry_flow() -> dict[str, Any]:
    """``FLOW`` with a Retry between the Function and the For Each:

    Request(flag, name, items, waitMs, failUntil) → Condition(flag)
      on true  → Function ``fn`` (awaits; throws for "boom") → Retry ``retry`` (attempt: Counter
                 ``attempts`` + IF ``check`` fails while count < failUntil) → For Each ``loop`` →
                 Wait ``nap`` → Response ``resp-ok`` {greeting, attempts, results}
      on false → Response ``resp-no`` {branch: "no"}
    """
    nodes = [
        request_node(params="flag,name,items,waitMs,failUntil"),
        node("cond", "Condition"),
        node("fn", "JavaScriptFunction", {"functionScript": SCRIPT}, ports=FUNCTION_PORTS),
        node("retry", "Workflow Retry", {"delayMs": 5, "maxAttempts": 4}),
        node("attempts", "Counter"),
        node("check", "Workflow IF", {"expression": "count < failUntil", "data": "flaky"}),
        node(
            "loop",
            "Workflow For Each",
            {"template": CLOUD_PREFIX + "lib/invert", "onItemFailure": "continue"},
        ),
        node("nap", "Workflow Wait", {"unit": "ms"}),
        response_node("resp-ok", params="greeting,attempts,results"),
        response_node("resp-no", params="branch", **{"pm-branch": "no"}),
    ]
    connections = [
        conn("req", "pm-flag", "cond", "condition"),
        conn("req", "receive", "cond", "eval"),
        conn("cond", "ontrue", "fn", "run"),
        conn("req", "pm-name", "fn", "in-name"),
        conn("fn", "out-Done", "retry", "run"),
        conn("retry", "attempt", "attempts", "increase"),
        conn("attempts", "currentCount", "check", "count"),
        conn("req", "pm-failUntil", "check", "failUntil"),
        conn("retry", "attempt", "check", "run"),
        conn("check", "data", "retry", "error"),
        conn("check", "onTrue", "retry", "attemptFailed"),
        conn("check", "onFalse", "retry", "attemptSucceeded"),
        conn("req", "pm-items", "loop", "items"),
        conn("retry", "success", "loop", "run"),
        conn("req", "pm-waitMs", "nap", "duration"),
        conn("loop", "completed", "nap", "run"),
        conn("loop", "allResults", "nap", "data"),
        conn("fn", "out-greeting", "resp-ok", "pm-greeting"),
        conn("retry", "attemptNumber", "resp-ok", "pm-attempts"),
        conn("nap", "data", "resp-ok", "pm-results"),
        conn("nap", "done", "resp-ok", "send"),
        conn("cond", "onfalse", "resp-no", "send"),
    ]
    return export(component("g", nodes, connections), CHILD)


RETRY_FLOW = retry_flow()
