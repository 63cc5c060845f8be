"""Every recorded answer of the real CloudRunner, reproduced byte for byte (bodies compared as text)."""

from __future__ import annotations

from typing import Any

import pytest

from sidecar.runtime import Outcome, Runtime
from tests.runtime.conftest import (
    conformance_answer,
    conformance_cases,
    conformance_request,
    load_conformance_export,
)

CASES = conformance_cases()
# A case the real runner never answers is answered by our timeout; keep it short in tests.
TIMEOUT_SECONDS = 0.3


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
async def test_conformance_case(case: dict[str, Any]) -> None:
    runtime = Runtime.from_export(load_conformance_export(case["export"]), timeout_seconds=TIMEOUT_SECONDS)

    response = await runtime.run(case["function"], conformance_request(case))

    expected = case["expected"]
    if expected.get("timeout"):
        assert response.outcome is Outcome.TIMED_OUT
        assert response.status_code == 504
        assert '"code":"function/timeout"' in response.body
    else:
        assert (response.status_code, response.body) == conformance_answer(case)


ANSWERED = [case for case in CASES if not case["expected"].get("timeout")]


@pytest.mark.parametrize("case", ANSWERED, ids=[case["id"] for case in ANSWERED])
async def test_a_function_answers_the_same_on_every_run(case: dict[str, Any]) -> None:
    # Later runs reuse what earlier builds learned (port tables, compiled scripts): never their state.
    runtime = Runtime.from_export(load_conformance_export(case["export"]), timeout_seconds=TIMEOUT_SECONDS)

    for _ in range(3):
        response = await runtime.run(case["function"], conformance_request(case))
        assert (response.status_code, response.body) == conformance_answer(case)


def test_every_recorded_case_is_collected() -> None:
    assert len(CASES) >= 20
