"""``noodl-sidecar run``: one function, no server, exactly one JSON line on stdout whatever happens.

The command is run as users run it (``python -m sidecar run …``, the console script's code path), with
stderr thrown away as in ``run … 2>/dev/null | python -m json.tool``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT
from tests.runtime.conftest import CONFORMANCE_DIR, conformance_cases, export_path
from tests.runtime.graphs import (
    component,
    conn,
    export,
    function_node,
    node,
    request_node,
    response_node,
)

CASES = conformance_cases()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sidecar", "run", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60, check=False)


def _answer_line(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The one line on stdout, parsed; fails unless stdout is exactly one JSON line."""
    lines = done.stdout.splitlines()
    assert len(lines) == 1, f"stdout must be one line, got {done.stdout!r} (stderr: {done.stderr[-500:]!r})"
    assert done.stdout.endswith("\n")
    answer = json.loads(lines[0])
    assert isinstance(answer, dict)
    assert set(answer) == {"statusCode", "body"}
    return answer


def _write_export(tmp_path: Path, graph: dict[str, Any]) -> str:
    path = tmp_path / "f.export.json"
    path.write_text(json.dumps(graph))
    return str(path)


def test_every_public_conformance_case_prints_exactly_one_json_line(tmp_path: Path) -> None:

    def run_case(case: dict[str, Any]) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
        request = tmp_path / f"{case['id']}.request.json"
        request.write_text(json.dumps(case["request"]))
        export_file = str(CONFORMANCE_DIR / case["export"])
        args = [export_file, case["function"], "--request", str(request), "--timeout", "0.3"]
        return case, _run(*args)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run_case, CASES))

    assert len(results) >= 20
    for case, done in results:
        answer = _answer_line(done)
        expected = case["expected"]
        if expected["ok"]:
            assert (answer["statusCode"], answer["body"]) == (
                expected["response"]["statusCode"],
                expected["response"]["body"],
            ), case["id"]
            assert done.returncode == 0, case["id"]
        else:  # a rejection or a run that never answers: still one line, and the status says so
            assert answer["statusCode"] in (404, 500, 504), case["id"]
            assert done.returncode == 1, case["id"]


def test_a_run_that_logs_keeps_its_log_lines_on_stderr(tmp_path: Path) -> None:
    # A connection to a port that cannot exist and a script that throws both log warnings.
    graph = export(
        component(
            "f",
            [request_node(), function_node("throw new Error('boom')"), response_node()],
            [
                conn("req", "receive", "fn", "run"),
                conn("req", "receive", "resp", "nope"),
                conn("req", "receive", "resp", "send"),
            ],
        )
    )

    done = _run(_write_export(tmp_path, graph), "f", "--body", "{}")

    assert _answer_line(done) == {"statusCode": 200, "body": '{"result":{}}'}
    assert done.returncode == 0
    logged = [json.loads(line) for line in done.stderr.splitlines()]
    assert {entry["level"] for entry in logged} >= {"warning"}
    assert any(entry["event"] == "connection dropped: port cannot exist" for entry in logged)


def test_lines_below_warning_go_to_stderr_when_asked_for(tmp_path: Path) -> None:
    broken = node("expr", "Expression", {"expression": "1 +"})  # logged at info: it does not compile
    graph = export(
        component(
            "f",
            [request_node(), broken, response_node()],
            [conn("expr", "result", "resp", "pm-v"), conn("req", "receive", "resp", "send")],
        )
    )
    path = _write_export(tmp_path, graph)

    quiet = _run(path, "f")
    chatty = _run(path, "f", "--log-level", "debug")

    assert _answer_line(quiet) == _answer_line(chatty) == {"statusCode": 200, "body": '{"result":{"v":0}}'}
    assert quiet.stderr == "", "warning is the default level: nothing below it is written"
    events = [json.loads(line)["event"] for line in chatty.stderr.splitlines()]
    assert "expression does not compile" in events


def test_a_rejection_prints_the_local_backends_500_line(tmp_path: Path) -> None:
    graph = export(
        component(
            "f",
            [node("req", "noodl.cloud.request"), response_node()],
            [conn("req", "receive", "resp", "send")],
        )
    )

    done = _run(_write_export(tmp_path, graph), "f", "--body", "{}")

    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        '{"statusCode":500,"body":"{\\"error\\":\\"Unauthenticated requests not accepted.\\"}"}'
    ]
    assert "function run rejected" in done.stderr


def test_an_unanswered_run_times_out_with_504() -> None:
    done = _run(
        str(export_path("h_runtasks.export.json")), "runtasks", "--body", '{"items":[]}', "--timeout", "0.1"
    )

    line = _answer_line(done)
    assert done.returncode == 1
    assert line["statusCode"] == 504
    assert json.loads(line["body"])["code"] == "function/timeout"


def test_an_unknown_function_answers_404_naming_the_functions_there_are(tmp_path: Path) -> None:
    graph = export(
        component("f", [request_node(), response_node()], [conn("req", "receive", "resp", "send")]),
        component("g", [request_node(), response_node()], [conn("req", "receive", "resp", "send")]),
    )

    done = _run(_write_export(tmp_path, graph), "nope")

    assert done.returncode == 1
    assert _answer_line(done) == {
        "statusCode": 404,
        "body": '{"error":"Function \'nope\' not found (available: f, g)","code":"function/not-found"}',
    }
    [logged] = [json.loads(line) for line in done.stderr.splitlines() if "no such function" in line]
    assert logged["available"] == ["f", "g"]


def _echo(*args: str) -> subprocess.CompletedProcess[str]:
    return _run(str(export_path("a_echo.export.json")), "echo", *args)


def test_a_body_that_is_not_json_is_a_usage_error() -> None:
    done = _echo("--body", "not json")

    assert done.returncode == 2
    assert done.stdout == ""
    assert "--body is not JSON" in done.stderr
    assert "--raw-body" in done.stderr


def test_raw_body_sends_the_text_as_it_is() -> None:
    done = _echo("--body", "not json", "--raw-body")

    assert done.returncode == 0, done.stderr
    assert _answer_line(done) == {"statusCode": 200, "body": '{"result":{}}'}  # the echo of a non-JSON body


def test_raw_body_without_a_body_is_a_usage_error() -> None:
    done = _echo("--raw-body")

    assert done.returncode == 2
    assert done.stdout == ""
    assert "--raw-body applies to --body" in done.stderr


def test_a_json_body_is_sent() -> None:
    done = _echo("--body", '{"message": "hi"}')

    assert done.returncode == 0, done.stderr
    assert _answer_line(done) == {"statusCode": 200, "body": '{"result":{"echo":"hi"}}'}


def test_a_function_answering_an_error_status_still_exits_0(tmp_path: Path) -> None:
    failure = response_node(status="failure", errorMessage="no")
    graph = export(component("f", [request_node(), failure], [conn("req", "receive", "resp", "send")]))

    done = _run(_write_export(tmp_path, graph), "f")

    assert done.returncode == 0, "a response was sent"
    assert _answer_line(done) == {"statusCode": 400, "body": '{"error":"no"}'}


def test_runs_from_a_request_file(tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"headers": {}, "body": {"message": "hello noodl", "count": 3}}))

    done = _run(str(export_path("a_echo.export.json")), "echo", "--request", str(request))

    assert done.returncode == 0
    assert (
        done.stdout
        == '{"statusCode":200,"body":"{\\"result\\":{\\"echo\\":\\"hello noodl\\",\\"count\\":3}}"}\n'
    )


@pytest.mark.parametrize("problem", ["absent", "not json", "bad export"])
def test_an_unreadable_export_is_a_usage_error_with_nothing_on_stdout(tmp_path: Path, problem: str) -> None:
    path = tmp_path / "f.export.json"
    if problem == "not json":
        path.write_text("{")
    elif problem == "bad export":
        path.write_text(json.dumps({"components": "nope"}))

    done = _run(str(path), "f")

    assert done.returncode == 2
    assert done.stdout == ""
    assert "cannot run function" in done.stderr


def test_help_names_the_exit_statuses() -> None:
    done = _run("--help")

    assert done.returncode == 0
    assert "exit status" in done.stdout
    assert "--log-level" in done.stdout


def test_doctor_prints_one_json_report(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "sidecar", "doctor", "--data-dir", str(tmp_path), "--log-level", "debug"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=60, check=False)

    assert done.returncode == 0
    [line] = done.stdout.splitlines()
    assert json.loads(line)["ok"] is True
