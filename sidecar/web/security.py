"""Local security and cross-origin rules, as one aiohttp middleware and a response hook.

- ``Host`` check: a loopback-bound backend answers only requests addressed to a loopback name (or a
  configured extra name), so a web page cannot reach it through DNS rebinding;
- CORS on every response, ``OPTIONS`` on any path → 204 without credentials;
- the body limit of every route (:mod:`sidecar.web.limits`): a declared length over it → 413 before a
  byte is read, a chunked body cut at it while read;
- the body's minimum rate (:mod:`sidecar.web.body_deadline`): a body trickled slower → 408, closed;
- failed credentials counted on every route (:mod:`sidecar.web.limiter`): 429 once a client is over;
- every error leaves in its wire shape (:mod:`sidecar.web.wire`); an unexpected exception is logged and
  answered 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware
from aiohttp.web_protocol import RequestPayloadError

from sidecar.errors import (
    BodyTooLargeError,
    HostNotAllowedError,
    LoginFailedError,
    RouteNotFoundError,
    SidecarError,
    TooManyAttemptsError,
    UnreadableBodyError,
)
from sidecar.web.body_deadline import watch_body
from sidecar.web.limiter import CREDENTIAL_FAILED, FAILED_CREDENTIALS, CredentialLimiter
from sidecar.web.limits import BodyLimits
from sidecar.web.settings import WebSettings, is_loopback
from sidecar.web.wire import error_response

log = structlog.get_logger()

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_ALLOWED_HEADERS = (
    "X-Parse-Master-Key, X-Parse-REST-API-Key, X-Parse-Javascript-Key, X-Parse-Application-Id, "
    "X-Parse-Client-Version, X-Parse-Session-Token, X-Requested-With, X-Parse-Revocable-Session, "
    "X-Parse-Request-Id, X-Parse-Installation-Id, X-Parse-Client-Key, X-Parse-Windows-Key, "
    "X-Parse-Cloud-Context, X-NodeGX-Api-Key, X-NodeGX-File-Private, Last-Event-ID, Authorization, "
    "Content-Type, Pragma, Cache-Control"
)


def host_name(host_header: str) -> str:
    """``127.0.0.1:8578`` → ``127.0.0.1``; ``[::1]:80`` → ``::1``."""
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")] if "]" in host_header else host_header
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def door_middleware(settings: WebSettings, limiter: CredentialLimiter) -> Middleware:
    """One middleware (each layer costs on every request): the Host check, then ``OPTIONS``, then the
    body limit, then the request with its credential failures counted and its errors translated to
    their wire shape."""
    allowed = _LOOPBACK_NAMES | settings.allowed_hosts | {settings.host}
    enforce = is_loopback(settings.host)
    limits = BodyLimits(settings)

    @web.middleware
    async def door(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host")
        if enforce and host is not None and host_name(host).lower() not in allowed:
            return error_response(HostNotAllowedError(f"Host not allowed: {host}"))
        method = request.method
        if method == "OPTIONS":
            return web.Response(status=204, headers={"Access-Control-Max-Age": "86400"})
        if request.body_exists:
            limit = limits.for_request(method, request.path)
            declared = request.content_length
            if declared is not None and declared > limit:
                return error_response(BodyTooLargeError())
            if limit != limits.default:  # the app's client_max_size is the default; uploads get theirs
                request = request.clone(client_max_size=limit)
            watch = watch_body(request.content)
            if watch is not None:
                try:
                    response = await answer_in_wire_shape(request, handler, limiter)
                finally:
                    watch.stop()
                if watch.expired:
                    response.force_close()  # the rest of the body is not worth waiting for
                return response
        return await answer_in_wire_shape(request, handler, limiter)

    return door


def _counted_as(request: web.Request, failure: SidecarError) -> str:
    """Whose failures a failed credential adds to: the client address; for a wrong login, the address
    and the account tried."""
    client = request.remote or ""
    if isinstance(failure, LoginFailedError):
        return f"{client}\x00login\x00{failure.account}"
    return client


async def answer_in_wire_shape(
    request: web.Request, handler: Handler, limiter: CredentialLimiter
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except FAILED_CREDENTIALS as failure:
        return error_response(limiter.answer_failure(_counted_as(request, failure), failure))
    except SidecarError as error:
        return error_response(error)
    except web.HTTPRequestEntityTooLarge:
        return error_response(BodyTooLargeError())
    except RequestPayloadError:
        return error_response(UnreadableBodyError())
    except web.HTTPNotFound:
        return error_response(RouteNotFoundError(f"Not found: {request.method} {request.path}"))
    except web.HTTPException:
        raise
    except Exception as error:
        log.exception("web.unhandled_error", method=request.method, path=request.path)
        return error_response(error)
    # The request's storage is empty unless a handler flagged something: len() is cheaper than a miss.
    if len(request) and request.get(CREDENTIAL_FAILED):
        try:
            limiter.failed(request.remote or "")
        except TooManyAttemptsError as blocked:
            return error_response(blocked)
    return response


def cors_hook(settings: WebSettings) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    static = {
        "Access-Control-Allow-Origin": settings.cors_origin,
        "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS",
        "Access-Control-Expose-Headers": "X-Parse-Job-Status-Id, X-Parse-Push-Status-Id",
    }

    async def add_cors(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers.update(static)
        headers["Access-Control-Allow-Headers"] = request.headers.get(
            "Access-Control-Request-Headers", _ALLOWED_HEADERS
        )

    return add_cors
