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
    """(status, body) the real runner answered; the isolate host's answer for a rejection."""
    expected = case["expected"]
    answer = expected["response"] if expected["ok"] else expected["isolate_response"]
    return answer["statusCode"], answer["body"]
