"""``fetch`` in Function code: the host side of the script's request (see ``runtimes/js/prelude.js``).

The script builds the request (method, absolute http(s) URL, header pairs, text body); this module
checks its shape, sends it with the backend's HTTP client and hands back what the script's
``Response`` is made of. The request is a task of the run (``RunContext.spawn``), so it is cancelled
when the run ends or times out; the client's own timeout bounds it otherwise.
"""

from __future__ import annotations

from typing import Any

from sidecar.runtime.context import RunContext
from sidecar.runtime.http_client import AiohttpClient, Fetcher

# A body the script could not hold within its engine's memory limit is refused before it arrives.
MAX_BODY_BYTES = 8 * 1024 * 1024
# What Node 20's fetch sends when the script names none.
DEFAULT_HEADERS = (("accept", "*/*"), ("user-agent", "node"))


def fetcher(ctx: RunContext) -> Fetcher:
    client = ctx.services.http
    return client if isinstance(client, Fetcher) else AiohttpClient()


async def script_fetch(ctx: RunContext, args: Any) -> dict[str, Any]:
    method, url, headers, body = _request(args)
    names = {name for name, _ in headers}
    headers += [(name, value) for name, value in DEFAULT_HEADERS if name not in names]
    result = await fetcher(ctx).fetch(method, url, headers, body, MAX_BODY_BYTES)
    return {
        "status": result.status,
        "statusText": result.reason,
        "headers": [list(pair) for pair in result.headers],
        "url": result.url,
        "redirected": result.redirected,
        "body": result.body,
    }


def _request(args: Any) -> tuple[str, str, list[tuple[str, str]], str | None]:
    # The prelude sends exactly this shape; anything else is a script reaching the bridge oddly.
    if not (isinstance(args, list) and len(args) == 4):
        raise ValueError("fetch: malformed request")
    method, url, headers, body = args
    if not isinstance(method, str) or not isinstance(url, str):
        raise ValueError("fetch: malformed request")
    if not url.startswith(("http://", "https://")):
        raise ValueError("fetch: only http and https URLs can be fetched")
    if not isinstance(headers, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair)
        for pair in headers
    ):
        raise ValueError("fetch: malformed headers")
    if body is not None and not isinstance(body, str):
        raise ValueError("fetch: malformed body")
    return method, url, [(name, value) for name, value in headers], body
