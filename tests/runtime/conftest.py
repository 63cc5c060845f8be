"""Fixtures for the runtime tests: conformance cases, exports and a runner helper."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sidecar.runtime import NoodlRequest, make_request
from tests.conftest import FIXTURES_DIR

CONFORMANCE_DIR = FIXTURES_DIR / "cloudrunner"


def conformance_cases() -> list[dict[str, Any]]:
    """Every recorded case of the real runner."""
    cases_file = CONFORMANCE_DIR / "cases.jsonl"
    return [json.loads(line) for line in cases_file.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_conformance_export(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CONFORMANCE_DIR / relative).read_text(encoding="utf-8"))
    return data


def export_path(name: str) -> Path:
    return CONFORMANCE_DIR / "exports" / name


def conformance_request(case: dict[str, Any]) -> NoodlRequest:
    """The request a recorded case sent."""
    request = case["request"]
    if "body" in request or "headers" in request:
        return make_request(request.get("body", {}), request.get("headers"))
    return make_request(request)  # the request object is itself the parameters


def conformance_answer(case: dict[str, Any]) -> tuple[int, str]:
    """(status, body) a local backend answers: the real runner's response, byte for byte; for a run the
    runner rejected, the local backend's answer to that rejection instead of the cloud isolate's 400:
    404 ``Function '<name>' not found`` for a missing function, 500 with the rejection's message else."""
    expected = case["expected"]
    if expected["ok"]:
        return expected["response"]["statusCode"], expected["response"]["body"]
    error: str = expected["error"]
    if error.startswith("Can't find component model for "):
        not_found = {"error": f"Function '{case['function']}' not found", "code": "function/not-found"}
        return 404, json.dumps(not_found, separators=(",", ":"))
    return 500, json.dumps({"error": error}, separators=(",", ":"))
