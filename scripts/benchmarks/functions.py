"""Cloud functions over HTTP: calls/s and latency at 20 clients against a real `serve` process.

The function is request → expression → condition → response, the shape the runtime issue
names; the load comes from `wrk` in another process, history is on as users run it.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the "_" helper modules beside the suites
from _http_load import serve, wrk, wrk_missing


def _node(node_id: str, kind: str, **parameters: Any) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "parameters": parameters, "ports": [], "children": []}


def _link(source: str, out: str, target: str, into: str) -> dict[str, str]:
    return {"sourceId": source, "sourcePort": out, "targetId": target, "targetPort": into}


CHECK_EXPORT = {
    "settings": {},
    "metadata": {},
    "components": [
        {
            "name": "/#__cloud__/check",
            "metadata": {},
            "ports": [],
            "roots": [],
            "nodes": [
                _node("request", "noodl.cloud.request", allowNoAuth=True, params="amount"),
                _node("large", "Expression", expression="amount >= 100"),
                _node("decide", "Condition"),
                _node("approve", "noodl.cloud.response", params="approved", **{"pm-approved": True}),
                _node("review", "noodl.cloud.response", params="approved", **{"pm-approved": False}),
            ],
            "connections": [
                _link("request", "pm-amount", "large", "amount"),
                _link("large", "result", "decide", "condition"),
                _link("request", "receive", "decide", "eval"),
                _link("decide", "onfalse", "approve", "send"),
                _link("decide", "ontrue", "review", "send"),
            ],
        }
    ],
}


def run(quick: bool) -> dict[str, Any]:
    if wrk_missing():
        return {"error": "wrk is not installed (apt-get install -y wrk)"}
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        with serve(work / "backend_bench") as backend:
            url = backend.deploy("check", CHECK_EXPORT)
            body = '{"amount": 42}'
            seconds = 2 if quick else 8
            wrk(url, backend, body, 1, 4, work)  # warm-up
            return {
                "function": "request → expression → condition → response, history on",
                "at_1_client": wrk(url, backend, body, seconds, 1, work),
                "at_20_clients": wrk(url, backend, body, seconds, 20, work),
                "targets": {"calls_per_s_at_20_clients": 3000},
            }


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run("--quick" in sys.argv), indent=2) + "\n")
