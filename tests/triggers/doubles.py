"""Small real implementations of the trigger service's ports, for tests (no call-asserting mocks)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sidecar.triggers import FunctionRequest, Rejection, TriggerInfo


@dataclass(frozen=True)
class Call:
    name: str
    payload: Any
    headers: dict[str, str]
    trigger: TriggerInfo


Handler = Callable[[Call], Awaitable[tuple[int, str]]]


async def echo(call: Call) -> tuple[int, str]:
    return 200, json.dumps({"received": call.payload})


@dataclass
class InProcessFunctions:
    """Cloud functions as Python coroutines; every invocation is kept in ``calls``."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def has_function(self, name: str) -> bool:
        return name in self.handlers

    async def invoke(self, name: str, request: FunctionRequest, trigger: TriggerInfo) -> tuple[int, str]:
        call = Call(name, json.loads(request.body), dict(request.headers), trigger)
        self.calls.append(call)
        return await self.handlers[name](call)


@dataclass
class MemoryHistory:
    """Rejected fires as execution history would keep them."""

    rejections: list[Rejection] = field(default_factory=list)

    async def record_rejection(self, rejection: Rejection) -> None:
        self.rejections.append(rejection)


@dataclass
class MemorySecrets:
    webhooks: dict[str, str] = field(default_factory=dict)

    def webhook_secret(self, trigger_id: str) -> str | None:
        return self.webhooks.get(trigger_id)

    def set_webhook_secret(self, trigger_id: str, secret: str) -> None:
        self.webhooks[trigger_id] = secret

    def delete_webhook_secret(self, trigger_id: str) -> None:
        self.webhooks.pop(trigger_id, None)


class Gate:
    """A function body that blocks until released, to hold runs in flight."""

    def __init__(self) -> None:
        self.started = 0
        self._release = asyncio.Event()

    async def __call__(self, call: Call) -> tuple[int, str]:
        self.started += 1
        await self._release.wait()
        return 200, "{}"

    def release(self) -> None:
        self._release.set()
