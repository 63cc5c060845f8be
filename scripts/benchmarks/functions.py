"""Cloud functions over HTTP: calls/s and latency at 20 clients against a real `serve` process.

The function is request → expression → condition → response, the shape the runtime issue
names; the load comes from `wrk` in another process, history is on as users run it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
READY = "NODEGX_BACKEND_READY "


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

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"amount": 42}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Parse-Application-Id"] = "%s"
"""


def _percentile(text: str, label: str) -> float | None:
    match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if match is None:
        return None
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]
    return round(float(match.group(1)) * scale, 3)


def _wrk(url: str, backend_id: str, seconds: int, clients: int, work: Path) -> dict[str, Any]:
    script = work / "post.lua"
    script.write_text(WRK_SCRIPT % backend_id)
    out = subprocess.run(
        ["wrk", f"-t{min(2, clients)}", f"-c{clients}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "clients": clients,
        "calls_per_s": round(float(rate.group(1))) if rate else None,
        "p50_ms": _percentile(out, "50"),
        "p99_ms": _percentile(out, "99"),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def run(quick: bool) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        return {"error": "wrk is not installed (apt-get install -y wrk)"}
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sidecar",
                "serve",
                "--data-dir",
                str(work / "backend_bench"),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            port = json.loads(line[len(READY) :])["port"]
            token = json.loads((work / "backend_bench" / "secrets.json").read_text())["adminToken"]
            deploy = urllib.request.Request(
                f"http://127.0.0.1:{port}/admin/workflows/check",
                data=json.dumps(CHECK_EXPORT).encode(),
                method="PUT",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            urllib.request.urlopen(deploy, timeout=10).read()
            url = f"http://127.0.0.1:{port}/functions/check"
            seconds = 2 if quick else 8
            _wrk(url, "backend_bench", 1, 4, work)  # warm-up
            figures = {
                "function": "request → expression → condition → response, history on",
                "at_1_client": _wrk(url, "backend_bench", seconds, 1, work),
                "at_20_clients": _wrk(url, "backend_bench", seconds, 20, work),
                "targets": {"calls_per_s_at_20_clients": 3000},
            }
        finally:
            server.terminate()
            server.wait(timeout=10)
            if server.stdout is not None:
                server.stdout.close()
    return figures


if __name__ == "__main__":
    sys.stdout.write(json.dumps(run("--quick" in sys.argv), indent=2) + "\n")
