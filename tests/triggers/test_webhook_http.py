"""POST /hooks/:backendId/:slug over real HTTP: verification, rejections recorded, limits, response modes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from sidecar.triggers import TriggerKind, TriggerService
from tests.triggers.conftest import BACKEND_ID
from tests.triggers.doubles import InProcessFunctions, MemoryHistory

Client = TestClient[web.Request, web.Application]
URL = f"/hooks/{BACKEND_ID}/orders"


async def create_hook(service: TriggerService, **webhook: Any) -> tuple[str, str]:
    created = await service.create_trigger(
        {
            "type": "webhook",
            "target": {"kind": "function", "name": "onOrder"},
            "webhook": {"slug": "orders", **webhook},
        }
    )
    return created["trigger"]["id"], created["secret"]


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
async def hook(service: TriggerService) -> tuple[str, str]:
    return await create_hook(service)


async def test_a_signed_request_runs_the_function_and_returns_its_answer(
    client: Client, hook: tuple[str, str], functions: InProcessFunctions
) -> None:
    trigger_id, secret = hook
    body = b'{"order": 42}'
    headers = {
        "X-Hub-Signature-256": signature(secret, body),
        "X-Shop-Id": "s1",
        "Content-Type": "text/plain",
    }
    response = await client.post(URL + "?source=shop", data=body, headers=headers)
    assert response.status == 200
    answer = await response.json()
    payload = answer["received"]
    assert payload["body"] == {"order": 42}
    assert payload["triggerType"] == "webhook"
    assert payload["trigger"]["type"] == "webhook"
    assert payload["trigger"]["id"] == trigger_id
    assert payload["trigger"]["slug"] == "orders"
    assert payload["query"] == {"source": "shop"}
    assert payload["headers"]["X-Hub-Signature-256"] == "[REDACTED]"
    [call] = functions.calls
    assert call.headers["X-Shop-Id"] == "s1"  # the caller's headers reach the function's request
    assert call.headers["content-type"] == "application/json"  # describing the payload, not the raw bytes
    assert "Content-Type" not in call.headers
    assert call.trigger.kind is TriggerKind.WEBHOOK
    assert call.trigger.source == "webhook orders"


async def test_a_base64_signature_header_is_accepted(client: Client, hook: tuple[str, str]) -> None:
    _, secret = hook
    body = b"plain text body"
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    response = await client.post(
        URL, data=body, headers={"X-Webhook-Signature": base64.b64encode(digest).decode()}
    )
    assert response.status == 200
    assert (await response.json())["received"]["body"] == "plain text body"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing signature header (one of X-Hub-Signature-256, X-Signature-256, X-Webhook-Signature)"),
        ({"X-Hub-Signature-256": "sha256=" + "ab" * 32}, "HMAC-SHA256 signature mismatch"),
    ],
)
async def test_a_missing_or_wrong_signature_is_rejected_and_recorded(
    client: Client,
    hook: tuple[str, str],
    functions: InProcessFunctions,
    history: MemoryHistory,
    headers: dict[str, str],
    reason: str,
) -> None:
    response = await client.post(URL, data=b'{"order": 1}', headers=headers)
    assert response.status == 401
    assert await response.json() == {"error": f"Webhook rejected: {reason}"}
    assert functions.calls == []
    [rejection] = history.rejections
    assert rejection.reason == f"Webhook rejected: {reason}"
    assert rejection.trigger_id == hook[0]
    assert rejection.kind is TriggerKind.WEBHOOK
    assert rejection.workflow_id == "onOrder"
    assert rejection.source == "webhook orders"


async def test_a_replayed_signature_over_a_changed_byte_is_rejected(
    client: Client, hook: tuple[str, str], functions: InProcessFunctions, history: MemoryHistory
) -> None:
    _, secret = hook
    original = b'{"order": 42, "amount": 100}'
    headers = {"X-Hub-Signature-256": signature(secret, original)}
    assert (await client.post(URL, data=original, headers=headers)).status == 200
    tampered = original.replace(b"100", b"900")
    response = await client.post(URL, data=tampered, headers=headers)
    assert response.status == 401
    assert len(functions.calls) == 1
    assert [r.reason for r in history.rejections] == ["Webhook rejected: HMAC-SHA256 signature mismatch"]


async def test_a_body_over_the_limit_is_413_before_reading_and_recorded(
    service: TriggerService, client: Client, functions: InProcessFunctions, history: MemoryHistory
) -> None:
    _, secret = await create_hook(service, maxBodyBytes=1024)
    body = b"x" * 1025
    response = await client.post(URL, data=body, headers={"X-Hub-Signature-256": signature(secret, body)})
    assert response.status == 413
    assert await response.json() == {"error": "Request body too large"}
    assert functions.calls == []
    assert history.rejections[0].status_code == 413


async def test_a_chunked_body_over_the_limit_is_413(
    service: TriggerService, client: Client, functions: InProcessFunctions
) -> None:
    await create_hook(service, maxBodyBytes=1024)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"y" * 512

    response = await client.post(URL, data=chunks())
    assert response.status == 413
    assert functions.calls == []


@pytest.mark.parametrize(
    ("path_suffix", "headers"),
    [
        ("", {"X-Webhook-Token": "{secret}"}),
        ("", {"Authorization": "Bearer {secret}"}),
        ("?token={secret}", {}),
    ],
)
async def test_token_scheme_accepts_each_source(
    service: TriggerService, client: Client, path_suffix: str, headers: dict[str, str]
) -> None:
    _, secret = await create_hook(service, scheme="token")
    filled = {name: value.format(secret=secret) for name, value in headers.items()}
    response = await client.post(URL + path_suffix.format(secret=secret), json={"a": 1}, headers=filled)
    assert response.status == 200
    payload = (await response.json())["received"]
    assert secret not in json.dumps(payload)


async def test_a_wrong_token_is_rejected(
    service: TriggerService, client: Client, history: MemoryHistory
) -> None:
    await create_hook(service, scheme="token")
    response = await client.post(URL, json={}, headers={"X-Webhook-Token": "wrong-token"})
    assert response.status == 401
    assert history.rejections[0].reason == "Webhook rejected: webhook token does not match"


async def test_unknown_hooks_and_disabled_triggers_are_404_with_nothing_recorded(
    service: TriggerService, client: Client, hook: tuple[str, str], history: MemoryHistory
) -> None:
    assert (await client.post(f"/hooks/{BACKEND_ID}/nope", data=b"{}")).status == 404
    assert (await client.post("/hooks/backend_other/orders", data=b"{}")).status == 404
    await service.set_trigger_enabled(hook[0], False)
    assert (await client.post(URL, data=b"{}")).status == 404
    assert history.rejections == []


async def test_async_response_mode_answers_202_at_once(
    service: TriggerService, client: Client, functions: InProcessFunctions
) -> None:
    release = asyncio.Event()

    async def slow(call: Any) -> tuple[int, str]:
        await release.wait()
        return 200, "{}"

    functions.handlers["onOrder"] = slow
    trigger_id, secret = await create_hook(service, responseMode="async")
    response = await client.post(URL, data=b"{}", headers={"X-Hub-Signature-256": signature(secret, b"{}")})
    assert response.status == 202
    assert await response.json() == {"accepted": True, "triggerId": trigger_id}
    release.set()
    await service.webhooks.close()
    assert len(functions.calls) == 1


async def test_a_missing_target_function_is_rejected_with_404_and_recorded(
    service: TriggerService,
    client: Client,
    hook: tuple[str, str],
    functions: InProcessFunctions,
    history: MemoryHistory,
) -> None:
    del functions.handlers["onOrder"]
    _, secret = hook
    response = await client.post(URL, data=b"{}", headers={"X-Hub-Signature-256": signature(secret, b"{}")})
    assert response.status == 404
    reason = 'Trigger target function "onOrder" not found on this backend'
    assert await response.json() == {"error": reason}
    assert history.rejections[0].reason == reason


async def test_each_fire_updates_the_triggers_status(
    service: TriggerService, client: Client, hook: tuple[str, str]
) -> None:
    _, secret = hook
    for _ in range(3):
        await client.post(URL, data=b"{}", headers={"X-Hub-Signature-256": signature(secret, b"{}")})
    await client.post(URL, data=b"{}")
    status = service.get_trigger(hook[0])["status"]
    assert status["fireCount"] == 4
    assert status["errorCount"] == 1
    assert status["lastResult"]["ok"] is False
    assert status["lastResult"]["statusCode"] == 401


async def test_rejections_never_carry_the_credential_into_history(
    service: TriggerService, client: Client, history: MemoryHistory
) -> None:
    await create_hook(service, scheme="token")
    await client.post(
        URL + "?token=guessed-token-1", json={}, headers={"Authorization": "Bearer guessed-token-2"}
    )
    [rejection] = history.rejections
    recorded = json.dumps(rejection.trigger_data)
    assert "guessed-token-1" not in recorded
    assert "guessed-token-2" not in recorded
