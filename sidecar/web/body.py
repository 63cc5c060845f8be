"""From an aiohttp request to a :class:`WireRequest`: the body (read within its route's limit, see
:mod:`sidecar.web.limits`) parsed as JSON whatever the Content-Type, body-tunnelled credentials lifted
out, ``_method`` applied, and query-string parameters JSON-decoded and merged."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sidecar.errors import InvalidJsonBodyError

_TUNNELLED = (
    "_ApplicationId",
    "_JavaScriptKey",
    "_ClientKey",
    "_ClientVersion",
    "_InstallationId",
    "_SessionToken",
    "_MasterKey",
    "_context",
    "_ContentType",
    "_RevocableSession",
    "_noBody",
)
_OVERRIDABLE = frozenset({"GET", "PUT", "DELETE"})
_CLIENT_KEY_HEADERS = (
    "X-Parse-REST-API-Key",
    "X-Parse-Javascript-Key",
    "X-Parse-Client-Key",
    "X-Parse-Windows-Key",
)


@dataclass(frozen=True)
class Credentials:
    """Every credential a request carries, headers first, body-tunnelled values as fallback."""

    app_id: str | None = None
    master_key: str | None = None
    session_token: str | None = None
    client_key: str | None = None
    bearer: str | None = None
    api_key: str | None = None
    """``X-NodeGX-Api-Key`` (``?apiKey=`` on realtime): a scoped key issued by the backend's admin."""


@dataclass(frozen=True)
class WireRequest:
    method: str
    """After ``_method`` override."""
    path: str
    """Relative to the mount, always starting with ``/``."""
    params: dict[str, Any]
    credentials: Credentials
    raw: bytes
    content_type: str
    """The request's type, or the body's ``_ContentType`` (the SDK's upload form sets it)."""


def decode_json_object(raw: bytes) -> dict[str, Any]:
    """An empty body is ``{}``; anything else must be a JSON object of valid Unicode text."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested ~1,000 deep
        raise InvalidJsonBodyError() from exc
    if not isinstance(value, dict):
        raise InvalidJsonBodyError()
    if _SURROGATE_ESCAPE.search(raw) is not None and not _is_unicode(value):
        raise InvalidJsonBodyError()
    return value


# ``\uD800``-``\uDFFF`` escapes: a pair is one character, a lone one decodes to a string that no store,
# file or answer can encode. Only a body with such an escape pays for the full check.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _is_unicode(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return False
    return True


def header_text(value: str) -> str:
    """A header value as valid Unicode: bytes that are not UTF-8 arrive as lone surrogates (aiohttp
    decodes with ``surrogateescape``) and become U+FFFD, so such a credential is merely wrong instead of
    failing every comparison, lookup and answer that encodes it."""
    if value.isascii():
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def query_params(query: Mapping[str, str]) -> dict[str, Any]:
    """Each value JSON-decoded when it decodes (``limit=10`` → 10, ``where={..}`` → dict), else a string."""
    decoded: dict[str, Any] = {}
    for key, text in query.items():
        try:
            decoded[key] = json.loads(text)
        except (ValueError, RecursionError):
            decoded[key] = text
    return decoded


def header_credentials(headers: Mapping[str, str]) -> Credentials:
    authorization = _header(headers, "Authorization") or ""
    bearer = authorization[7:].strip() if authorization[:7].lower() == "bearer " else None
    client_key = next((_header(headers, name) for name in _CLIENT_KEY_HEADERS if name in headers), None)
    return Credentials(
        app_id=_header(headers, "X-Parse-Application-Id"),
        master_key=_header(headers, "X-Parse-Master-Key"),
        session_token=_header(headers, "X-Parse-Session-Token"),
        client_key=client_key,
        bearer=bearer,
        api_key=_header(headers, "X-NodeGX-Api-Key"),
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return None if value is None else header_text(value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def lift_tunnelled(body: dict[str, Any], headers: Credentials) -> tuple[Credentials, str | None]:
    """Remove the ``_ApplicationId``-style keys from ``body``; header values win over body values."""
    if not body:
        return headers, None
    found = {key: body.pop(key) for key in _TUNNELLED if key in body}
    credentials = Credentials(
        app_id=headers.app_id or _text(found.get("_ApplicationId")),
        master_key=headers.master_key or _text(found.get("_MasterKey")),
        session_token=headers.session_token or _text(found.get("_SessionToken")),
        client_key=headers.client_key or _text(found.get("_JavaScriptKey") or found.get("_ClientKey")),
        bearer=headers.bearer,
        api_key=headers.api_key,
    )
    return credentials, _text(found.get("_ContentType"))


def apply_method_override(method: str, body: dict[str, Any]) -> str:
    """``POST`` with ``_method`` ∈ GET/PUT/DELETE is routed as that method; the key is removed."""
    if method != "POST" or "_method" not in body:
        return method
    override = body.pop("_method")
    if isinstance(override, str) and override.upper() in _OVERRIDABLE:
        return override.upper()
    return method


def build_wire_request(
    request: web.BaseRequest, path: str, raw: bytes, body: dict[str, Any] | None
) -> WireRequest:
    """``body`` is the decoded JSON object, or ``None`` for a raw upload (whose bytes stay in ``raw``)."""
    headers = header_credentials(request.headers)
    fields = body if body is not None else {}
    credentials, tunnelled_type = lift_tunnelled(fields, headers)
    method = apply_method_override(request.method, fields)
    params = query_params(request.query) if request.query_string else {}
    params.update(fields)
    return WireRequest(
        method=method,
        path=path,
        params=params,
        credentials=credentials,
        raw=raw,
        content_type=tunnelled_type or request.headers.get("Content-Type") or "",
    )
