"""Re-run: the recorded request minus its redacted parts, linked to the original by ``metadata.retryOf``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sidecar.errors import ExecutionNotFoundError, RerunUnavailableError
from sidecar.history import ExecutionHistory, rerun_request
from sidecar.runtime import Runtime, make_request
from tests.history.graphs import condition_then_function


def recorded(trigger_data: Any) -> dict[str, Any]:
    return {"id": "exec_orig", "workflowId": "greet", "triggerData": trigger_data}


def test_the_clear_parts_of_the_request_are_rebuilt_and_secrets_left_out() -> None:
    data = {
        "headers": {"content-type": "application/json", "authorization": "[REDACTED]"},
        "bodySize": 60,
        "body": {"name": "Ada", "password": "[REDACTED]", "items": [1, 2]},
    }
    request = rerun_request(recorded(data))

    assert request.function == "greet"
    assert request.headers == {"content-type": "application/json"}
    assert json.loads(request.body) == {"name": "Ada", "items": [1, 2]}
    assert request.omitted == ("headers.authorization", "body.password")
    assert request.trigger.extra == {"retryOf": "exec_orig"}
    assert request.trigger.trigger_type == "manual"


def test_a_value_that_was_a_secret_of_a_known_format_is_left_out_like_a_secret_key() -> None:
    data = {"headers": {}, "bodySize": 60, "body": {"name": "Ada", "key": "[REDACTED:stripe]"}}
    request = rerun_request(recorded(data))

    assert json.loads(request.body) == {"name": "Ada"}
    assert request.omitted == ("body.key",)


@pytest.mark.parametrize(
    "trigger_data",
    [
        None,
        {"__truncated": True, "__originalSize": 90_000, "__preview": "{..."},
        {"__error": "Failed to serialize data"},
        {"headers": {}, "bodySize": 9, "body": "[unparsable body]"},
        {"headers": {}, "bodySize": 9, "body": {"note": "code is [REDACTED] ok"}},
        {"headers": {}, "bodySize": 9, "body": {"note": "pay with [REDACTED:stripe] please"}},
        {"headers": {}, "bodySize": 9, "body": {"big": {"__truncated": True, "__originalSize": 1}}},
    ],
)
def test_requests_not_recorded_in_full_cannot_be_rerun(trigger_data: Any) -> None:
    with pytest.raises(RerunUnavailableError):
        rerun_request(recorded(trigger_data))


async def test_a_rerun_runs_again_and_is_linked_to_the_original(history: ExecutionHistory) -> None:
    runtime = Runtime.from_export(condition_then_function())
    first = history.recorder_for()
    assert first is not None
    await runtime.run(
        "greet", make_request({"flag": True, "name": "Ada"}, {"x-api-key": "k-12345"}), recorder=first
    )
    assert history.writer is not None
    await history.writer.flush()
    assert first.execution_id is not None

    again = await history.rerun_request(first.execution_id)
    second = history.recorder_for(again.trigger)
    response = await runtime.run(
        again.function, make_request(json.loads(again.body), again.headers), recorder=second
    )
    await history.writer.flush()

    assert json.loads(response.body) == {"result": {"greeting": "Hello Ada"}}
    assert second is not None
    assert second.execution_id is not None
    stored = await history.get_execution(second.execution_id)
    assert stored is not None
    assert stored["metadata"]["retryOf"] == first.execution_id
    assert stored["triggerType"] == "manual"
    with pytest.raises(ExecutionNotFoundError):
        await history.rerun_request("exec_nope")
