"""``GET /realtime`` (the SSE stream) and ``POST /realtime/subscriptions``.

Frames: ``connected {clientId}`` first; ``change {action, collection, id, record}`` after each matching
commit; ``resync {reason}`` on a reconnect (``Last-Event-ID``) or after an overflow. Every frame has an
``id:`` increasing per connection; a ``:`` comment line keeps idle connections alive.
"""

from __future__ import annotations

from aiohttp import web

from sidecar.web.auth import resolve_stream_caller
from sidecar.web.body import Credentials, decode_json_object, header_credentials
from sidecar.web.realtime.hub import Frame, RealtimeClient, RealtimeHub, frame, replace_subscriptions
from sidecar.web.services import Services
from sidecar.web.wire import json_response

_STREAM_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
}


def stream_credentials(request: web.Request) -> Credentials:
    """Headers win; EventSource cannot send headers, so the query may carry the credential."""
    headers = header_credentials(request.headers)
    query = request.query
    return Credentials(
        app_id=headers.app_id,
        master_key=headers.master_key,
        bearer=headers.bearer or query.get("authToken"),
        session_token=headers.session_token or query.get("token") or query.get("sessionToken"),
        api_key=headers.api_key or query.get("apiKey"),
    )


def encode_frame(frame_id: int, item: Frame) -> bytes:
    return f"id: {frame_id}\nevent: {item.event}\ndata: {item.data}\n\n".encode()


class RealtimeRoutes:
    def __init__(self, services: Services, hub: RealtimeHub) -> None:
        self._services = services
        self._hub = hub

    async def stream(self, request: web.Request) -> web.StreamResponse:
        if "text/event-stream" not in request.headers.get("Accept", ""):
            return json_response({"hint": "open this route with 'Accept: text/event-stream'"})
        settings = self._services.settings
        caller = await resolve_stream_caller(
            stream_credentials(request), settings, self._services.store, self._services.api_keys
        )
        response = web.StreamResponse(headers=_STREAM_HEADERS)
        await response.prepare(request)
        client = self._hub.connect(caller)
        try:
            await self._pump(request, response, client)
        except ConnectionResetError:
            pass  # the client went away; nothing left to tell it
        finally:
            self._hub.disconnect(client)
        return response

    async def _pump(self, request: web.Request, response: web.StreamResponse, client: RealtimeClient) -> None:
        """Write frames until the hub ends the stream; a comment line whenever it has been idle."""
        items = [frame("connected", {"clientId": client.client_id})]
        if request.headers.get("Last-Event-ID") or request.query.get("lastEventId"):
            items.append(frame("resync", {"reason": "reconnect"}))  # no replay: the client must re-read
        for frame_id, item in enumerate(items, start=1):
            await response.write(encode_frame(frame_id, item))
        frame_id = len(items)
        while True:
            try:
                next_item = await client.next_frame(self._services.settings.heartbeat_seconds)
            except TimeoutError:
                await response.write(b": heartbeat\n\n")
                continue
            if next_item is None:
                return
            frame_id += 1
            await response.write(encode_frame(frame_id, next_item))

    async def subscribe(self, request: web.Request) -> web.Response:
        body = decode_json_object(await request.read())
        client = self._hub.client(body.get("clientId"))
        result = await replace_subscriptions(client, body.get("subscriptions"), self._services.store)
        return json_response(result)
