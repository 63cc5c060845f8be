"""How large a request body each route may send: the one table the door's middleware applies to every
route (the Parse routes, ``/api``, the admin routes, webhooks, functions, realtime).

- a file upload (``POST <mount>/files/…``) may carry ``file_body_limit`` (50 MB);
- a webhook (``/hooks/…``) may carry ``webhook_body_limit``, the largest ``maxBodyBytes`` a trigger may
  declare; the webhook gateway then holds each trigger to its own, smaller limit (and records the refusal);
- everything else is JSON and may carry ``json_body_limit`` (10 MB).

A declared ``Content-Length`` over the limit is refused (413) before a byte is read; a body without a
length (chunked) is counted while it is read and cut at the limit (aiohttp's ``client_max_size``, which
``request.read()`` honours).
"""

from __future__ import annotations

from sidecar.web.settings import WebSettings

_WEBHOOK_PREFIX = "/hooks/"


class BodyLimits:
    def __init__(self, settings: WebSettings) -> None:
        self.default = settings.json_body_limit
        self._files = settings.file_body_limit
        self._webhooks = settings.webhook_body_limit
        self._larger = (f"{settings.mount_prefix}/files/", _WEBHOOK_PREFIX)
        """Where a limit other than the default may apply (one test on every request)."""

    def for_request(self, method: str, path: str) -> int:
        """The limit in bytes of a request to ``path`` (the full path, mount included)."""
        if not path.startswith(self._larger):
            return self.default
        if path.startswith(_WEBHOOK_PREFIX):
            return self._webhooks
        return self._files if method == "POST" else self.default
