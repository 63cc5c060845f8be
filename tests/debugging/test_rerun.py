"""``execution-history:rerun`` with edited input: linked to the original, the diff kept, secrets never
replayed as their marker."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from sidecar.backends.backend import Backend
from sidecar.errors import ExecutionNotFoundError, RerunUnavailableError
from tests.channels import Channels
from tests.debugging.conftest import call_flow


async def stored(backend: Backend, execution_id: str) -> dict[str, Any]:
    found = await backend.history.get_execution(execution_id)
    assert found is not None
    return dict(found)


async def test_a_failed_run_edited_and_rerun_passes_and_is_linked_with_its_changes(
    backend: Backend, channels: Channels
) -> None:
    failing = {"flag": True, "name": "boom", "items": [{"n": 1}], "waitMs": 0}
    response, failed_id = await call_flow(backend, failing, {"x-trace": "t-1"})
    assert response.status_code == 504

    pinned = await channels("execution:pin", failed_id)
    assert pinned["error"]["nodeId"] == "fn"
    edits = {"body": dict(failing, name="Ada"), "headers": {"x-trace": "t-2", "x-extra": "yes"}}
    rerun = await channels("execution-history:rerun", failed_id, edits)

    assert rerun["statusCode"] == 200
    assert json.loads(rerun["body"]) == {"result": {"greeting": "Hello Ada", "results": [10]}}
    assert rerun["inputChanges"] == ["/headers/x-trace", "/headers/x-extra", "/body/name"]
    again = await stored(backend, rerun["executionId"])
    assert again["status"] == "success"
    assert again["metadata"]["retryOf"] == failed_id
    assert again["metadata"]["inputChanges"] == rerun["inputChanges"]
    assert again["triggerData"]["headers"]["x-trace"] == "t-2"
    assert again["triggerData"]["body"]["name"] == "Ada"
    repinned = await channels("execution:pin", rerun["executionId"])
    assert (repinned["retryOf"], repinned["inputChanges"]) == (failed_id, rerun["inputChanges"])


async def test_without_edits_a_rerun_replays_the_recorded_request_as_before(
    backend: Backend, channels: Channels
) -> None:
    _response, original = await call_flow(backend, {"flag": False, "apiKey": "k-123456"})
    rerun = await channels("execution-history:rerun", original)
    assert rerun["statusCode"] == 200
    assert rerun["omitted"] == ["body.apiKey"]
    assert "inputChanges" not in rerun
    assert (await stored(backend, rerun["executionId"]))["metadata"]["retryOf"] == original


async def test_redacted_secrets_must_be_supplied_never_replayed_as_the_marker(
    backend: Backend, channels: Channels
) -> None:
    body = {"flag": False, "password": "pw-1234567"}
    _response, original = await call_flow(backend, body, {"authorization": "Bearer sekrit-123"})
    recorded = (await stored(backend, original))["triggerData"]
    assert recorded["body"]["password"] == "[REDACTED]"

    # The recorded body copied back as it was shown: the marker would be sent as the password.
    with pytest.raises(RerunUnavailableError) as refused:
        await channels("execution-history:rerun", original, {"body": recorded["body"]})
    assert refused.value.data == {"paths": ["/body/password"]}
    assert refused.value.http_status == 409
    with pytest.raises(RerunUnavailableError):
        await channels("execution-history:rerun", original, {"headers": {"authorization": "[REDACTED]"}})

    supplied = await channels(
        "execution-history:rerun",
        original,
        {"body": {"flag": False, "password": "pw-new-999"}, "headers": {"authorization": "Bearer fresh-456"}},
    )
    assert supplied["statusCode"] == 200
    assert supplied["omitted"] == []
    assert supplied["inputChanges"] == []  # secrets supplied are no diffs: their recorded value is unknown
    metadata = (await stored(backend, supplied["executionId"]))["metadata"]
    assert metadata["suppliedSecrets"] == ["/headers/authorization", "/body/password"]
    assert "fresh-456" not in json.dumps(await stored(backend, supplied["executionId"]))

    # Edits that leave a redacted header out still leave it out, as a plain re-run does.
    partial = await channels("execution-history:rerun", original, {"body": {"flag": False}})
    assert partial["omitted"] == ["headers.authorization"]
    assert partial["inputChanges"] == ["/headers/authorization", "/body/password"]


async def test_bad_edits_are_refused_before_anything_runs(backend: Backend, channels: Channels) -> None:
    _response, original = await call_flow(backend, {"flag": False})
    runs_before = len((await backend.history.list_executions({}))["executions"])
    bad_edits: list[dict[str, Any]] = [{"bdy": {}}, {"headers": {"x": 1}}, {"sessionToken": 7}]
    for bad in bad_edits:
        with pytest.raises(ValidationError):
            await channels("execution-history:rerun", original, bad)
    with pytest.raises(ExecutionNotFoundError):
        await channels("execution-history:rerun", "exec_nope", {"body": {}})
    assert len((await backend.history.list_executions({}))["executions"]) == runs_before


async def test_the_admin_route_reruns_with_or_without_edits(backend: Backend) -> None:
    _response, original = await call_flow(backend, {"flag": True, "name": "boom", "items": [], "waitMs": 0})
    admin = {"Authorization": f"Bearer {backend.spec.admin_token}"}
    async with aiohttp.ClientSession(f"http://127.0.0.1:{backend.port}", headers=admin) as http:
        edited = await http.post(
            f"/executions/{original}/rerun",
            json={"body": {"flag": True, "name": "Web", "items": [], "waitMs": 0}},
        )
        answer = await edited.json()
        assert (edited.status, answer["statusCode"], answer["inputChanges"]) == (200, 200, ["/body/name"])
        plain = await http.post(f"/executions/{answer['executionId']}/rerun")
        assert (await plain.json())["statusCode"] == 200
        refused = await http.post(f"/executions/{original}/rerun", json={"body": {"k": "[REDACTED]"}})
        assert refused.status == 409
        assert (await http.post("/executions/exec_nope/rerun", json={})).status == 404
        assert (await http.post(f"/executions/{original}/rerun", data=b"[1]")).status == 400


async def test_a_request_the_history_cut_can_be_replaced_but_not_replayed(
    backend: Backend, channels: Channels
) -> None:
    _response, original = await call_flow(backend, {"flag": False, "blob": "z" * 60_000}, {"x-trace": "t-1"})
    assert (await stored(backend, original))["triggerData"]["__truncated"] is True
    with pytest.raises(RerunUnavailableError):
        await channels("execution-history:rerun", original)
    with pytest.raises(RerunUnavailableError):
        await channels("execution-history:rerun", original, {"headers": {"x-trace": "t-2"}})
    replaced = await channels(
        "execution-history:rerun",
        original,
        {"body": {"flag": False, "blob": "small"}, "headers": {"x-trace": "t-2"}},
    )
    assert replaced["statusCode"] == 200
    assert replaced["omitted"] == ["headers"]  # the recorded headers were lost with the cut request
    assert replaced["inputChanges"] == ["/headers/x-trace", "/body"]
    again = await stored(backend, replaced["executionId"])
    assert again["triggerData"]["headers"] == {"x-trace": "t-2"}
