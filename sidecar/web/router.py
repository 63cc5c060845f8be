"""A small router for the Parse routes: exact segment counts, ``:name`` parameters, and routing by the
*effective* method (after ``_method``), so ``/batch`` can route its sub-requests through the same table."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from sidecar.errors import RouteNotFoundError
from sidecar.store import CallerContext
from sidecar.web.body import Credentials
from sidecar.web.services import Services
from sidecar.web.wire import Reply


class Access(enum.Enum):
    PUBLIC = "public"
    """No credential needed (``/health``, file downloads)."""
    APP = "app"
    """Application id required; session tokens honoured."""
    MASTER = "master"
    """Admin credential required."""


@dataclass(frozen=True)
class Call:
    """One routed request as a handler sees it."""

    services: Services
    method: str
    args: Mapping[str, str]
    """Path parameters, URI-decoded."""
    params: dict[str, Any]
    """Body fields and query parameters, merged."""
    caller: CallerContext
    credentials: Credentials = field(default_factory=Credentials)
    base_url: str = ""
    """``scheme://host`` plus the mount: where ``Location`` headers and file URLs point."""
    raw: bytes = b""
    content_type: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    handler: Handler
    access: Access = Access.APP
    use_session: bool = True
    """``False`` for ``/login``: a stale token must not block logging in."""


@dataclass(frozen=True)
class Match:
    route: Route
    args: dict[str, str]


class Router:
    """Routes are indexed by method, segment count and first segment (always a literal)."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self._table: dict[tuple[str, int, str], list[tuple[tuple[str, ...], Route]]] = {}
        for route in routes:
            segments = tuple(part for part in route.pattern.split("/") if part)
            if not segments or segments[0].startswith(":"):
                raise ValueError(f"a route pattern starts with a literal segment: {route.pattern}")
            key = (route.method, len(segments), segments[0])
            self._table.setdefault(key, []).append((segments, route))

    def match(self, method: str, path: str) -> Match:
        parts = [unquote(part) for part in path.split("/") if part]
        candidates = self._table.get((method, len(parts), parts[0]), ()) if parts else ()
        for segments, route in candidates:
            args = _bind(segments, parts)
            if args is not None:
                return Match(route, args)
        raise RouteNotFoundError(f"Not found: {method} {path}")


def _bind(segments: tuple[str, ...], parts: list[str]) -> dict[str, str] | None:
    args: dict[str, str] = {}
    for segment, part in zip(segments, parts, strict=True):
        if segment[0] == ":":
            args[segment[1:]] = part
        elif segment != part:
            return None
    return args
