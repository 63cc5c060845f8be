"""``noodl-sidecar run``: one function, no server, exactly one JSON line on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sidecar.runtime.run_command import main
from tests.conftest import PROJECT_ROOT
from tests.runtime.conftest import export_path
from tests.runtime.graphs import component, conn, export, node, response_node


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sidecar.runtime.run_command", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60, check=False)


def test_runs_a_conformance_function_from_a_request_file(tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"headers": {}, "body": {"message": "hello noodl", "count": 3}}))

    done = _run(str(export_path("a_echo.export.json")), "echo", "--request", str(request))

    assert done.returncode == 0
    assert (
        done.stdout
        == '{"statusCode":200,"body":"{\\"result\\":{\\"echo\\":\\"hello noodl\\",\\"count\\":3}}"}\n'
    )


def test_a_rejection_prints_the_cloud_hosts_400_line(tmp_path: Path) -> None:
    graph = export(
        component(
            "f",
            [node("req", "noodl.cloud.request"), response_node()],
            [conn("req", "receive", "resp", "send")],
        )
    )
    path = tmp_path / "f.export.json"
    path.write_text(json.dumps(graph))

    done = _run(str(path), "f", "--body", "{}")

    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        '{"statusCode":400,"body":"{\\"error\\":\\"Unauthenticated requests not accepted.\\"}"}'
    ]


def test_an_unanswered_run_times_out_with_504() -> None:
    done = _run(
        str(export_path("h_runtasks.export.json")), "runtasks", "--body", '{"items":[]}', "--timeout", "0.1"
    )

    line = json.loads(done.stdout)
    assert done.returncode == 1
    assert line["statusCode"] == 504
    assert json.loads(line["body"])["code"] == "function/timeout"


def test_a_missing_export_is_a_usage_error(tmp_path: Path) -> None:
    assert main([str(tmp_path / "absent.json"), "f"]) == 2
