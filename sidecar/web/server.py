"""Listening: bind the app where the settings say, after the local-security check."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from sidecar.runtime import egress
from sidecar.web.settings import WebSettings

IDLE_CONNECTION_SECONDS = 60.0
"""A connection that has not sent a whole request this long after it opened (or after its last answer)
is closed. aiohttp's own default is an hour, so a client sending headers a byte at a time (slowloris)
could hold thousands of sockets, and the process's file descriptors with them."""


def app_runner(app: web.Application) -> web.AppRunner:
    """The runner every door listens through."""
    return web.AppRunner(
        app, access_log=None, handle_signals=False, keepalive_timeout=IDLE_CONNECTION_SECONDS
    )


@dataclass(frozen=True)
class RunningServer:
    runner: web.AppRunner
    port: int
    """The bound port (the chosen one when ``settings.port`` is 0)."""

    async def stop(self) -> None:
        """Stop listening, end open SSE streams, release the app (the store stays open)."""
        await self.runner.cleanup()
        egress.stopped_listening(self.port)


async def start_server(app: web.Application, settings: WebSettings) -> RunningServer:
    """Refuses (``UnsafeBindError``) to listen beyond loopback without an admin token."""
    settings.check_bind()
    runner = app_runner(app)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    port = runner.addresses[0][1]
    egress.listening(port)  # scripts run by this process may not call it
    return RunningServer(runner, port)
