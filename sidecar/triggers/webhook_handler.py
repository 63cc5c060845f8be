"""``POST|PUT /hooks/:backendId/:slug``: verify, then fire the webhook trigger.

The HTTP door mounts :meth:`WebhookGateway.routes`. Order of checks: unknown backend or slug (or a
disabled trigger) → 404 with nothing recorded; ``Content-Length`` over ``maxBodyBytes`` → 413 before any
byte is read (a body without a length is read up to the limit); signature or token → 401. Every
rejection after the slug resolved is recorded as a failed execution. A token or signature that does not
match is flagged on the request, so the HTTP door's failed-credential limiter counts it.

The verification material (signature and token headers, ``Authorization``, ``?token=``) is redacted
before the request becomes the function's payload: it authenticates the sender to us, not to the function.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web

from sidecar.triggers.dispatcher import Dispatcher, FireOutcome, FireRequest
from sidecar.triggers.model import ResponseMode, TriggerDef, WebhookScheme
from sidecar.triggers.payloads import webhook_payload
from sidecar.triggers.ports import SecretStore, TriggerKind
from sidecar.triggers.webhook_verify import (
    SIGNATURE_HEADERS,
    SIGNATURE_MISMATCH,
    TOKEN_HEADER,
    TOKEN_MISMATCH,
    TOKEN_QUERY,
    verify_hmac,
    verify_token,
)
from sidecar.web.limiter import CREDENTIAL_FAILED

METHODS = ("POST", "PUT")
REDACTED = "[REDACTED]"
_VERIFICATION_HEADERS = frozenset(
    name.lower() for name in (*SIGNATURE_HEADERS, TOKEN_HEADER, "Authorization")
)
_READ_CHUNK = 64 * 1024


class _BodyTooLarge(Exception):
    pass


class WebhookGateway:
    def __init__(
        self,
        backend_id: str,
        find_slug: Callable[[str], TriggerDef | None],
        secrets: SecretStore,
        dispatcher: Dispatcher,
        now_iso: Callable[[], str],
    ) -> None:
        self._backend_id = backend_id
        self._find_slug = find_slug
        self._secrets = secrets
        self._dispatcher = dispatcher
        self._now_iso = now_iso
        self._background: set[asyncio.Task[FireOutcome]] = set()

    def routes(self) -> list[web.RouteDef]:
        return [web.route(method, "/hooks/{backendId}/{slug}", self.handle) for method in METHODS]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        slug = request.match_info["slug"]
        trigger = self._find_slug(slug) if request.match_info["backendId"] == self._backend_id else None
        if trigger is None or not trigger.enabled or trigger.webhook is None:
            return _json({"error": f"Not found: {request.method} {request.path}"}, 404)
        headers = {name: value for name, value in request.headers.items()}
        query = {name: value for name, value in request.query.items()}
        limit = trigger.webhook.max_body_bytes
        declared = request.content_length
        if declared is not None and declared > limit:
            return await self._too_large(trigger, slug, headers, query, declared)
        try:
            raw = await _read_limited(request, limit)
        except _BodyTooLarge:
            return await self._too_large(trigger, slug, headers, query, declared)
        secret = self._secrets.webhook_secret(trigger.id)
        if trigger.webhook.scheme is WebhookScheme.TOKEN:
            reason = verify_token(secret, headers, query)
        else:
            reason = verify_hmac(secret, raw, headers)
        fire = self._fire_request(trigger, slug, headers, query, _parse_body(raw))
        if reason is not None:
            if reason in (SIGNATURE_MISMATCH, TOKEN_MISMATCH):
                request[CREDENTIAL_FAILED] = True  # a guess: the door's limiter counts it (not a missing one)
            outcome = await self._dispatcher.reject(fire, f"Webhook rejected: {reason}", 401)
            return _answer(outcome)
        if trigger.webhook.response_mode is ResponseMode.ASYNC:
            task = asyncio.get_running_loop().create_task(self._dispatcher.dispatch(fire))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return _json({"accepted": True, "triggerId": trigger.id}, 202)
        return _answer(await self._dispatcher.dispatch(fire))

    async def close(self) -> None:
        """Wait for accepted (202) fires still running."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def _fire_request(
        self, trigger: TriggerDef, slug: str, headers: Mapping[str, str], query: Mapping[str, str], body: Any
    ) -> FireRequest:
        clean_headers = {
            name: REDACTED if name.lower() in _VERIFICATION_HEADERS else value
            for name, value in headers.items()
        }
        clean_query = {name: REDACTED if name == TOKEN_QUERY else value for name, value in query.items()}
        payload = webhook_payload(trigger.id, slug, self._now_iso(), clean_headers, clean_query, body)
        return FireRequest(trigger, TriggerKind.WEBHOOK, f"webhook {slug}", payload, clean_headers)

    async def _too_large(
        self,
        trigger: TriggerDef,
        slug: str,
        headers: Mapping[str, str],
        query: Mapping[str, str],
        declared: int | None,
    ) -> web.StreamResponse:
        fire = self._fire_request(trigger, slug, headers, query, {"bodySize": declared})
        assert trigger.webhook is not None
        reason = f"Webhook rejected: body exceeds maxBodyBytes ({trigger.webhook.max_body_bytes})"
        await self._dispatcher.reject(fire, reason, 413)
        response = _json({"error": "Request body too large"}, 413)
        response.force_close()
        return response


async def _read_limited(request: web.Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_body(raw: bytes) -> Any:
    """JSON when it parses, else the text; an empty body is ``{}``."""
    if not raw.strip():
        return {}
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _answer(outcome: FireOutcome) -> web.Response:
    """The target's status and body, or ``{ok}`` when it gave no body."""
    if not outcome.body:
        return _json({"ok": outcome.ok}, outcome.status_code)
    try:
        json.loads(outcome.body)
    except ValueError:
        return web.Response(status=outcome.status_code, text=outcome.body, content_type="text/plain")
    return web.Response(status=outcome.status_code, text=outcome.body, content_type="application/json")


def _json(body: Mapping[str, Any], status: int) -> web.Response:
    return web.json_response(dict(body), status=status)
